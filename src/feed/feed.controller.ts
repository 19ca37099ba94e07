import { applyDecorators, Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiProduces, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal, RequirePermission } from '../common/auth/auth.decorators';
import type { Principal } from '../common/auth/principal';
import { ApiErrors } from '../common/http/api-errors.decorator';
import { disconnectSignal } from '../common/http/disconnect';
import { preferredWait } from '../common/http/prefer';
import { FlowEventsPageDto, ListFlowEventsQueryDto } from './dto/flow-event.dto';
import { FeedService } from './feed.service';
import { openEventStream } from './sse';

/** The feed's two representations and its request headers, for Swagger UI. */
const ApiFeed = () =>
  applyDecorators(
    ApiProduces('application/json', 'text/event-stream'),
    ApiHeader({ name: 'Prefer', required: false, description: 'RFC 7240 `wait=N` (1-60 s): hold an empty page until events arrive' }),
    ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Server-Sent Events: resume after this event id' }),
    ApiOkResponse({ type: FlowEventsPageDto, description: 'A page of events, or with `Accept: text/event-stream` a stream of them' }),
  );

@ApiTags('flow-executions')
@ApiBearerAuth('BearerAuth')
@ApiSecurity('APIKeyAuth')
@Controller('flow-executions/events')
export class FeedController {
  constructor(private readonly feed: FeedService) {}

  /**
   * The organization's event feed (one flow's with `flow_id`), oldest first, in commit order: as a
   * JSON page (`Prefer: wait=N` holds an empty page up to N seconds), or with
   * `Accept: text/event-stream` as Server-Sent Events, resumable with `Last-Event-ID`.
   */
  @Get()
  @RequirePermission('executions:read')
  @ApiFeed()
  @ApiErrors(400, 403, 404, 410)
  async listFlowExecutionEvents(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListFlowEventsQueryDto,
    @Headers('prefer') prefer: string | undefined,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream') {
      return this.feed.stream(principal, query, lastEventId, (revoked) => openEventStream(req, res, revoked));
    }
    const wait = preferredWait(prefer);
    const page = await this.feed.page(principal, query, wait, disconnectSignal(res));
    if (wait !== null) res.setHeader('Preference-Applied', `wait=${wait}`);
    res.json(page);
  }
}
