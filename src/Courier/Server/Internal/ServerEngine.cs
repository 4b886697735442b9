using Courier.Diagnostics.Internal;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Serving.Internal;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Server.Internal;

/// <summary>
/// A running server's loop-side state: its socket, the front end that decodes and checks requests, and the runner of
/// their handlers. Loop thread only, except <see cref="InFlight"/>.
/// </summary>
internal sealed class ServerEngine : IRequestTarget, ISocketHandler, IGaugeSource, IDisposable
{
    private readonly CourierServerOptions _options;
    private readonly IReadOnlyDictionary<string, CourierHandler> _handlers;
    private readonly ILogger _logger;
    private readonly ClientFrontEnd _frontEnd;
    private readonly HandlerRunner<InboundRequest> _runner;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IDisposable _gauges;
    private readonly DeliveryLedger<ServerRun> _ledger;
    private readonly IReadOnlySet<string> _idempotent;
    private readonly TimeProvider _clock;
    private bool _draining;

    /// <summary>Creates the server's socket on <paramref name="loop"/> and binds it (throws when it cannot).</summary>
    public ServerEngine(
        CourierServerOptions options, TransportOptions transport, IReadOnlyDictionary<string, CourierHandler> handlers, IReadOnlySet<string> idempotent,
        ITransportLoop loop, ILogger logger, Security.Internal.ListenerSecurity? security)
    {
        _options = options;
        _idempotent = idempotent;
        _clock = options.TimeProvider;
        _ledger = new DeliveryLedger<ServerRun>(AtMostOnce.Window, AtMostOnce.Capacity, options.TimeProvider);
        _handlers = handlers;
        _logger = logger;
        var socket = loop.CreateSocket(SocketKind.Router, transport, this);
        try
        {
            Endpoint = socket.Bind(options.Endpoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Violations = new ViolationLog(logger, $"Server {options.Name}", TelemetryRole.Server, transport, options.TimeProvider);
        _frontEnd = new ClientFrontEnd(TelemetryRole.Server, socket, this, options.DefaultService, options.MaxRequestSize, reuseArrays: false, logger, Violations, security, transport);
        _runner = new HandlerRunner<InboundRequest>(
            TelemetryRole.Server,
            loop, options.MaxConcurrency, options.MaxQueuedRequests, options.RunHandlersInline,
            "cancelled: server shut down before the request finished", logger, Complete)
        {
            OnIdle = OnIdle,
            Abandon = static request => request.Clear(),
            MaxReplyFrames = transport.MaxBodyFrames,
        };
        _gauges = LiveGauges.Register(this);
    }

    public string Endpoint { get; }

    /// <summary>What clients made this server drop or refuse, counted and logged at a bounded rate.</summary>
    public ViolationLog Violations { get; }

    public int InFlight => _runner.InFlight;

    /// <summary>See <see cref="HandlerRunner{TContext}.QueuedFired"/>. Loop thread only.</summary>
    public int QueuedFired => _runner.QueuedFired;

    /// <summary>See <see cref="ITransportSocket.LargestPendingBytes"/>. Loop thread only.</summary>
    public long LargestPendingBytes => _frontEnd.Replies.LargestPendingBytes;

    /// <summary>See <see cref="DeliveryLedger{TRunning}.RememberedBytes"/>. Loop thread only.</summary>
    public long RememberedBytes => _ledger.RememberedBytes;

    /// <summary>Completes once a drain began and nothing runs or waits any more.</summary>
    public Task Drained => _drained.Task;

    bool ISocketHandler.OnMessage(MessageFrames message)
    {
        _frontEnd.OnMessage(message);
        return true;
    }

    void ISocketHandler.OnPeerDisconnected(ReadOnlySpan<byte> routingId)
    {
    }

    /// <summary>The loop's end of turn: what was packed for clients leaves.</summary>
    public void OnTurnEnd() => _frontEnd.Flush();

    /// <summary>The loop's stop hook: lent frames of requests that will not be answered now go back (<see cref="HandlerRunner{TContext}.OnLoopStopped"/>).</summary>
    public void OnStopped() => _runner.OnLoopStopped();

    public string? NotServed(InboundRequest request)
        => _handlers.ContainsKey(request.Service!) ? null : $"no service '{request.Service}' here";

    public bool Keeps(string service) => _handlers.ContainsKey(service);

    public string? Refusal => _draining ? "server is shutting down" : null;

    public IReadOnlyList<ReadOnlyMemory<byte>>? AnswerMmi(string service, ReadOnlySpan<byte> argument)
        => service == "mmi.service"
            ? [_handlers.ContainsKey(System.Text.Encoding.UTF8.GetString(argument)) ? Mmi.Found : Mmi.NotFound]
            : null;

    public bool JoinedRepeat(InboundRequest request) => _ledger.Join(request, _frontEnd);

    public string? TryAccept(InboundRequest request)
    {
        var service = request.Service!;
        var delivery = request.Delivery;
        ServerRun? run = null;
        if (!delivery.Client.IsNone)
        {
            // Not a repeat (the front end asked JoinedRepeat first). In the ledger before it runs: an inline handler
            // may complete within TryRun.
            run = new ServerRun(request, Delivery.DeadlineOf(delivery.BudgetMs, _clock));
            _ledger.Start(request.Key, run);
        }

        if (!_runner.TryRun(_handlers[service], new CourierRequest(service, request.BodyArray(), delivery.Headers), request, run, TraceHeaders.Parent(delivery.Headers.Span)))
        {
            if (run is not null)
            {
                _ledger.Forget(request.Key, run);
            }

            return $"server busy: {_runner.Queued} requests queued";
        }

        return null;
    }

    /// <summary>
    /// The loop's tick: a summary of the violations not logged, when one is due; handlers past their request's deadline
    /// get their token fired; old answers are forgotten.
    /// </summary>
    public void OnTick()
    {
        Violations.OnTick();
        var now = _clock.GetTimestamp();
        _runner.OnTick(now);
        _ledger.Expire(now);
    }

    /// <summary>A caller gave up (courier/5 CANCEL): its handler's token fires.</summary>
    public void Cancel(RequestKey key)
    {
        if (_ledger.TryGetRunning(key, out var running))
        {
            running.Fire(CallCancel.Caller);
        }
    }

    /// <summary>Graceful stop begins: new requests are refused; <see cref="Drained"/> completes once the rest are done.</summary>
    public void BeginDrain()
    {
        _draining = true;
        ServerLog.Draining(_logger, _options.Name, _runner.InFlight + _runner.Queued, _options.DrainTimeout);
        if (_runner.Idle)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Cancels the handlers still running; they answer 503.</summary>
    public Task CancelHandlersAsync() => _runner.CancelAsync();

    public void Dispose()
    {
        _gauges.Dispose();
        _runner.Dispose();
    }

    /// <summary>Handlers running and waiting: read off the loop by a metrics collection (counts only).</summary>
    void IGaugeSource.Read(GaugeReadings readings)
    {
        readings.Add(Gauge.ServerActive, _runner.InFlight);
        readings.Add(Gauge.ServerQueued, _runner.Queued);
    }

    private void Complete(InboundRequest request, HandlerOutcome outcome)
    {
        var serviceIdempotent = _idempotent.Contains(request.Service!);
        outcome = outcome.For(serviceIdempotent || request.Delivery.Idempotent);
        var body = outcome.Body as ReadOnlyMemory<byte>[] ?? [.. outcome.Body];
        if (!request.Delivery.Client.IsNone && _ledger.Forget(request.Key, request, static (run, request) => ReferenceEquals(run.Inbound, request))
            && !serviceIdempotent && outcome.Status != CourierStatus.Unavailable && !outcome.NeverRan)
        {
            // A service that may not run twice remembers what it answered; an idempotent one may simply run again. A 504
            // from a handler that started (its token fired as it ran: its effects may have happened) is remembered too:
            // a repeat (a CANCEL and a resend that crossed) gets it instead of a second run.
            // Copies of lent frames (an echo's reply is its request's body): the request, and they, go now.
            _ledger.Remember(request.Key, new RememberedReply(outcome.Status, LentFrames.Owned(body), outcome.Headers ?? []), request.UserId);
        }

        _frontEnd.Answer(request, outcome.Status, body, outcome.Headers);
    }

    private void OnIdle()
    {
        if (_draining)
        {
            _frontEnd.Flush(); // the last replies leave before the stop goes on
            _drained.TrySetResult();
        }
    }
}

/// <summary>
/// A courier/5 request a server is running: its handler's token, and the request to answer (whose route becomes the
/// newest attempt's). One object, not a call and a record beside it: one allocation fewer per request.
/// </summary>
internal sealed class ServerRun(InboundRequest inbound, long deadline) : HandlerCall(deadline), IRunningRequest
{
    public InboundRequest Inbound { get; } = inbound;
}
