-- Written by `npm run sql:queries` from the @GenerateSql samples in src/organizations/organizations.repository.ts: do not edit.

-- OrganizationsRepository.lock (first use)
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  max_concurrent_executions,
  active_executions
FROM
  organizations
WHERE
  id = $1
FOR UPDATE;
-- params: ["00000000-0000-4000-a000-000000000000"]
INSERT INTO
  organizations (id)
VALUES
  ($1)
ON CONFLICT (id) DO NOTHING;
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  max_concurrent_executions,
  active_executions
FROM
  organizations
WHERE
  id = $1
FOR UPDATE;

-- OrganizationsRepository.tryLock
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  max_concurrent_executions,
  active_executions
FROM
  organizations
WHERE
  id = $1
FOR UPDATE
  SKIP LOCKED;

-- OrganizationsRepository.find
-- params: ["00000000-0000-4000-a000-000000000000"]
SELECT
  max_concurrent_executions,
  active_executions
FROM
  organizations
WHERE
  id = $1;

-- OrganizationsRepository.setLimit
-- params: ["00000000-0000-4000-a000-000000000000",10]
UPDATE organizations
SET
  max_concurrent_executions = $2,
  updated_at = now()
WHERE
  id = $1;
