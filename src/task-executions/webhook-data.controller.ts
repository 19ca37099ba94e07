import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiUpstreamOperation } from '../common/http/api-errors.decorator';
import { ParseIdPipe } from '../common/validation/parse-id.pipe';
import { WebhookDataAckResponseDto, WebhookDataCreateRequestDto } from './dto/webhook-data.dto';
import { WebhookDataService } from './webhook-data.service';

@ApiTags('webhook-data')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('flow-executions/:flow_execution_id/webhook-data')
export class WebhookDataController {
  constructor(private readonly service: WebhookDataService) {}

  /**
   * Submit data for a waiting webhook_receiver task. A 200 means the data is durably stored; the
   * identical body again answers `duplicate`, a different one 409. Data sent before the task runs is
   * kept and completes the task when its execution is created.
   */
  @Post()
  @RequirePermission('webhook-data:submit')
  @HttpCode(200)
  @ApiUpstreamOperation('receive_webhook_data_api_flow_executions__flow_execution_id__webhook_data_post', WebhookDataAckResponseDto, 400, 403, 404, 409)
  submit(
    @CurrentPrincipal() principal: Principal,
    @Param('flow_execution_id', new ParseIdPipe('execution')) id: string,
    @Body() dto: WebhookDataCreateRequestDto,
  ): Promise<WebhookDataAckResponseDto> {
    return this.service.submit(principal, id, dto);
  }
}
