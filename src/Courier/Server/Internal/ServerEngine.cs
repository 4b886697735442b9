using Courier.Diagnostics.Internal;
using Courier.Internal;
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
    private bool _draining;

    /// <summary>Creates the server's socket on <paramref name="loop"/> and binds it (throws when it cannot).</summary>
    public ServerEngine(CourierServerOptions options, TransportOptions transport, IReadOnlyDictionary<string, CourierHandler> handlers, ITransportLoop loop, ILogger logger)
    {
        _options = options;
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
        _frontEnd = new ClientFrontEnd(TelemetryRole.Server, socket, this, options.DefaultService, options.MaxRequestSize, reuseArrays: false, logger, Violations);
        _runner = new HandlerRunner<InboundRequest>(
            TelemetryRole.Server,
            loop, options.MaxConcurrency, options.MaxQueuedRequests, options.RunHandlersInline,
            "cancelled: server shut down before the request finished", logger, Complete)
        {
            OnIdle = OnIdle,
        };
        _gauges = LiveGauges.Register(this);
    }

    public string Endpoint { get; }

    /// <summary>What clients made this server drop or refuse, counted and logged at a bounded rate.</summary>
    public ViolationLog Violations { get; }

    /// <summary>The loop's tick: a summary of the violations not logged, when one is due.</summary>
    public void OnTick() => Violations.OnTick();

    public int InFlight => _runner.InFlight;

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

    public string? NotServed(InboundRequest request)
        => _handlers.ContainsKey(request.Service!) ? null : $"no service '{request.Service}' here";

    public string? Refusal => _draining ? "server is shutting down" : null;

    public IReadOnlyList<ReadOnlyMemory<byte>>? AnswerMmi(string service, ReadOnlySpan<byte> argument)
        => service == "mmi.service"
            ? [_handlers.ContainsKey(System.Text.Encoding.UTF8.GetString(argument)) ? Mmi.Found : Mmi.NotFound]
            : null;

    public string? TryAccept(InboundRequest request)
    {
        var service = request.Service!;
        return _runner.TryRun(_handlers[service], new CourierRequest(service, request.BodyArray()), request)
            ? null
            : $"server busy: {_runner.Queued} requests queued";
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
        => _frontEnd.Answer(request, outcome.Status, outcome.Body as ReadOnlyMemory<byte>[] ?? [.. outcome.Body]);

    private void OnIdle()
    {
        if (_draining)
        {
            _frontEnd.Flush(); // the last replies leave before the stop goes on
            _drained.TrySetResult();
        }
    }
}
