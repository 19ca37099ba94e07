import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './src/database/data-source-options';

// The TypeORM CLI's data source (`npm run migration:*`); it needs DATABASE_URL.
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL must be set for the migration CLI');

export default new DataSource(buildDataSourceOptions(url));
