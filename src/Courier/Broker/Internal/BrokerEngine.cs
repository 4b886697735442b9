using Courier.Diagnostics.Internal;
using Courier.Internal;
using Courier.Protocol.Internal;
using Courier.Serving.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Broker.Internal;

/// <summary>
/// A running broker's loop-side state: its one ROUTER socket, on which clients and workers both arrive. Each message is
/// classified once: workers' go to the <see cref="WorkerRegistry"/>, clients' to the <see cref="ClientFrontEnd"/>, which
/// decodes and checks them and hands them to the <see cref="ServiceTable"/>. Loop thread only.
/// </summary>
internal sealed class BrokerEngine : ISocketHandler
{
    private readonly ClientFrontEnd _frontEnd;
    private readonly ServiceTable _services;
    private readonly WorkerRegistry _workers;

    /// <summary>Creates the broker's socket on <paramref name="loop"/> and binds it (throws when it cannot).</summary>
    public BrokerEngine(CourierBrokerOptions options, ITransportLoop loop, ILogger logger, Security.Internal.ListenerSecurity? security)
    {
        var transport = security is null ? options.Transport : options.Transport with { Curve = security.Curve };
        var socket = loop.CreateSocket(SocketKind.Router, transport, this, reportDisconnects: true);
        try
        {
            Endpoint = socket.Bind(options.Endpoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _services = new ServiceTable(options);
        // The broker's requests are never seen by user code: their arrays are reused from request to request.
        Violations = new ViolationLog(logger, "Broker", TelemetryRole.Broker, options.Transport, options.TimeProvider);
        _frontEnd = new ClientFrontEnd(TelemetryRole.Broker, socket, _services, options.DefaultService, options.MaxRequestSize, reuseArrays: true, logger, Violations, security, options.Transport);
        _workers = new WorkerRegistry(options, socket, _services, logger, Violations) { Security = security is { ChecksWorkers: true } ? security : null };
        _services.FrontEnd = _frontEnd;
        _services.Workers = _workers;
    }

    public string Endpoint { get; }

    /// <summary>What the broker's gauges read.</summary>
    public IGaugeSource Gauges => _services.Telemetry;

    /// <summary>What clients and workers made this broker drop or refuse, counted and logged at a bounded rate.</summary>
    public ViolationLog Violations { get; }

    /// <summary>See <see cref="ServiceTable.TrackedInProgress"/>. Read from any thread by tests: a racy, eventually true count.</summary>
    public int TrackedInProgress => _services.TrackedInProgress;

    /// <summary>See <see cref="ITransportSocket.LargestPendingBytes"/>. Loop thread only.</summary>
    public long LargestPendingBytes => _frontEnd.Replies.LargestPendingBytes;

    /// <summary>See <see cref="ServiceTable.RememberedBytes"/>. Loop thread only.</summary>
    public long RememberedBytes => _services.RememberedBytes;

    public bool OnMessage(MessageFrames message)
    {
        switch (BrokerInbound.Classify(message))
        {
            case BrokerMessageKind.WorkerCourierReply:
                _workers.Replies.OnCourierReply(message);
                break;
            case BrokerMessageKind.WorkerCourier5Reply:
                _workers.Replies.OnCourierReply(message, courier5: true);
                break;
            case BrokerMessageKind.WorkerReplyBatch:
                _workers.Replies.OnReplyBatch(message);
                break;
            case BrokerMessageKind.WorkerCommand:
                _workers.OnCommand(message);
                break;
            default:
                _frontEnd.OnMessage(message);
                break;
        }

        return true;
    }

    /// <summary>A broker forwards: what a turn brings is sent at its end, in as few messages as it packs into.</summary>
    public bool EndTurnAfterFirstMessage => false;

    public void OnPeerDisconnected(ReadOnlySpan<byte> routingId)
    {
        if (!_workers.OnDisconnected(routingId))
        {
            _services.OnClientGone(routingId);
        }
    }

    /// <summary>The loop's stop hook: the large bodies of requests still queued or at a worker go back to the transport.</summary>
    public void OnStopped() => _frontEnd.GiveBackHeld();

    public void OnTick()
    {
        _workers.OnTick();
        _services.OnTick();
        Violations.OnTick();
    }

    /// <summary>
    /// Sends what was packed while handling this turn: requests to workers, then replies to clients. A batch so holds
    /// only what was ready at once and never waits for more.
    /// </summary>
    public void OnTurnEnd()
    {
        _workers.Flush();
        _frontEnd.Flush();
        // Last: a flush may hand requeued requests out, and those belong to this turn's choices, not the next one's.
        _services.EndTurn();
    }
}
