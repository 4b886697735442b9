using System.Buffers.Binary;
using System.Text;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Serving.Internal;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Worker.Internal;

/// <summary>
/// A running worker's loop-side state: its connection to the broker (replaced on reconnect, with backoff), registration
/// after negotiation, heartbeats both ways, and the runner of its handler. Loop thread only, except <see cref="InFlight"/>.
/// </summary>
internal sealed class WorkerEngine : ISocketHandler, IDisposable
{
    private static readonly TimeSpan MinimumLinger = TimeSpan.FromSeconds(1);
    private readonly CourierWorkerOptions _options;
    private readonly CourierHandler _handler;
    private readonly ILogger _logger;
    private readonly ITransportLoop _loop;
    private readonly TimeProvider _clock;
    private readonly TransportOptions _transport;
    private readonly HandlerRunner<WorkerJob> _runner;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<byte[]> _received = [];
    private readonly long _heartbeatTicks;
    private readonly long _livenessTicks;
    private WorkerConnection? _connection;
    private long _reconnectAt = long.MaxValue;
    private TimeSpan _reconnectDelay;
    private bool _draining;
    private bool _saidDisconnect;

    public WorkerEngine(CourierWorkerOptions options, CourierHandler handler, ITransportLoop loop, ILogger logger)
    {
        _options = options;
        _handler = handler;
        _loop = loop;
        _logger = logger;
        _clock = options.TimeProvider;
        // A short linger at least, so the last replies of a graceful stop leave before the socket closes.
        _transport = options.Transport.Linger >= MinimumLinger ? options.Transport : options.Transport with { Linger = MinimumLinger };
        _heartbeatTicks = Ticks(options.HeartbeatInterval);
        _livenessTicks = Ticks(options.HeartbeatInterval * options.HeartbeatLiveness);
        _reconnectDelay = options.ReconnectDelay;
        // A worker takes what its broker gives it: the broker bounds that by the capacity declared in READY.
        _runner = new HandlerRunner<WorkerJob>(loop, int.MaxValue, 0, options.RunHandlersInline, "worker stopped before the request finished", logger, Complete)
        {
            OnIdle = OnIdle,
        };
    }

    public int InFlight => _runner.InFlight;

    /// <summary>Completes once a drain began and no handler runs any more.</summary>
    public Task Drained => _drained.Task;

    public void Connect()
    {
        _reconnectAt = long.MaxValue;
        if (_draining)
        {
            return;
        }

        var now = _clock.GetTimestamp();
        WorkerConnection connection;
        try
        {
            connection = new WorkerConnection(_loop, _options, _transport, this, now, now + _livenessTicks) { NextHeartbeat = now + _heartbeatTicks };
        }
#pragma warning disable CA1031 // The transport refused the address: try again later, as after any lost connection.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Reconnect($"cannot connect: {ex.Message}");
            return;
        }

        _connection = connection;
        if (connection.Negotiation.Mode != PeerMode.Probing)
        {
            Register(connection);
        }
    }

    public bool OnMessage(MessageFrames message)
    {
        var connection = _connection!;
        switch (WorkerInbound.Classify(message))
        {
            case WorkerMessageKind.ProbeAnswer:
                message.CopyTo(_received);
                OnProbeAnswer(connection, _received);
                return true;
            case WorkerMessageKind.CourierRequest:
                Heard(connection);
                // "CURW02"+0x02+token, body…: answered by its token.
                OnRequest(connection, new ReplyAddress(BinaryPrimitives.ReadUInt64BigEndian(message[0][7..]), null), BodyFrom(message, 1));
                return true;
            case WorkerMessageKind.RequestBatch:
                Heard(connection);
                OnRequestBatch(connection, message);
                return true;
            case WorkerMessageKind.MdpCommand:
                Heard(connection);
                OnCommand(connection, message);
                return !connection.Closed;
            default:
                WorkerLog.Unexpected(_logger, _options.Name, message.Count, "not a 7/MDP worker message");
                return true;
        }
    }

    void ISocketHandler.OnPeerDisconnected(ReadOnlySpan<byte> routingId)
    {
    }

    /// <summary>The loop's end of turn: the replies packed this turn leave.</summary>
    public void OnTurnEnd() => _connection?.Flush();

    public void OnTick()
    {
        var now = _clock.GetTimestamp();
        if (now >= _reconnectAt)
        {
            Connect();
            return;
        }

        if (_connection is not { } connection || _saidDisconnect)
        {
            return;
        }

        if (connection.Negotiation.Mode == PeerMode.Probing && now >= connection.Negotiation.ProbeDeadline)
        {
            // No 8/MMI answer: a broker without MMI, or none yet. Register as plain 7/MDP; a late Courier answer re-registers.
            connection.Negotiation.Settle(PeerMode.Plain);
            Register(connection);
        }

        if (now - connection.LastHeard > _livenessTicks)
        {
            Reconnect("no heartbeat from the broker");
            return;
        }

        // No heartbeats before READY: to a 7/MDP broker, a heartbeat from an unknown worker is an error.
        if (now >= connection.NextHeartbeat && connection.Negotiation.Mode != PeerMode.Probing)
        {
            connection.NextHeartbeat = now + _heartbeatTicks;
            connection.SendCommand(MdpWorker.HeartbeatFrame);
        }
    }

    /// <summary>Graceful stop begins: no new work; <see cref="Drained"/> completes once the handlers are done.</summary>
    public void BeginDrain()
    {
        _draining = true;
        if (_runner.Idle)
        {
            _drained.TrySetResult();
        }
    }

    public Task CancelHandlersAsync() => _runner.CancelAsync();

    /// <summary>The last replies, then DISCONNECT; nothing more goes out (a heartbeat now would be a protocol violation).</summary>
    public void SayDisconnect()
    {
        _connection?.Flush();
        _connection?.SendCommand(MdpWorker.DisconnectFrame);
        _saidDisconnect = true;
    }

    public void Dispose() => _runner.Dispose();

    private void Register(WorkerConnection connection)
    {
        var courier = connection.Negotiation.Mode == PeerMode.Courier;
        var capacity = courier ? _options.Concurrency : 1;
        WorkerLog.Registering(_logger, _options.Name, _options.Service, _options.BrokerEndpoint, courier ? "Courier" : "7/MDP", capacity);
        connection.SayReady(_options.Service, capacity);
    }

    private void Reconnect(string reason)
    {
        // Replies to the old connection's requests are dropped with it: the broker gives those requests to others.
        _connection?.Dispose();
        _connection = null;
        if (_draining)
        {
            return;
        }

        WorkerLog.Reconnecting(_logger, _options.Name, _options.BrokerEndpoint, reason, _reconnectDelay);
        _reconnectAt = _clock.GetTimestamp() + Ticks(_reconnectDelay);
        _reconnectDelay = TimeSpan.FromTicks(Math.Min(_reconnectDelay.Ticks * 2, _options.ReconnectDelayMax.Ticks));
    }

    private void Heard(WorkerConnection connection)
    {
        connection.LastHeard = _clock.GetTimestamp();
        _reconnectDelay = _options.ReconnectDelay;
    }

    private void OnProbeAnswer(WorkerConnection connection, List<byte[]> frames)
    {
        if (connection.Negotiation.Mode == PeerMode.Probing)
        {
            connection.Negotiation.Answered(frames);
            Register(connection);
        }
        else if (Negotiation.VersionOf(frames) >= 2 && connection.Negotiation.Mode == PeerMode.Plain && _runner.InFlight == 0)
        {
            Reconnect("the broker turned out to speak Courier after the probe timed out");
        }
    }

    /// <summary>A batch of REQUESTs (docs/protocol.md §6): copied once; each handler's body is a slice of that copy.</summary>
    private void OnRequestBatch(WorkerConnection connection, MessageFrames message)
    {
        var data = message.ToArray(0);
        var reader = new BatchReader(data);
        while (reader.TryRead(out var record))
        {
            OnRequest(connection, new ReplyAddress(record.Id, null), [data.AsMemory(record.BodyOffset, record.Body.Length)]);
        }

        if (reader.Malformed)
        {
            WorkerLog.Unexpected(_logger, _options.Name, 1, "a batch with a malformed record");
        }
    }

    private void OnCommand(WorkerConnection connection, MessageFrames message)
    {
        switch (message[2][0])
        {
            case MdpWorker.Request when message.Count >= 5:
                // ["", MDPW01, REQUEST, client address, "", body…]; the address is opaque and goes back unchanged.
                OnRequest(connection, new ReplyAddress(0, message.ToArray(3)), BodyFrom(message, message.Length(4) == 0 ? 5 : 4));
                break;
            case MdpWorker.Heartbeat:
                break;
            case MdpWorker.Disconnect:
                Reconnect("the broker said DISCONNECT");
                break;
            default:
                WorkerLog.Unexpected(_logger, _options.Name, message.Count, "unknown or malformed command");
                break;
        }
    }

    private void OnRequest(WorkerConnection connection, ReplyAddress address, ReadOnlyMemory<byte>[] body)
    {
        if (_draining && connection.Negotiation.Mode == PeerMode.Courier)
        {
            connection.Reply(address, CourierStatus.Unavailable, [Encoding.UTF8.GetBytes("worker stopping")]);
            return;
        }

        _runner.TryRun(_handler, new CourierRequest(_options.Service, body), new WorkerJob(connection, address));
    }

    private void Complete(WorkerJob job, HandlerOutcome outcome)
    {
        // A reply for a request from an earlier connection is dropped: the broker has given that request to another worker.
        // After DISCONNECT nothing more is sent: the broker has forgotten this worker and requeued what it held.
        if (ReferenceEquals(job.Connection, _connection) && !job.Connection.Closed && !_saidDisconnect)
        {
            job.Connection.Reply(job.Address, outcome.Status, outcome.Body);
        }
    }

    private void OnIdle()
    {
        if (_draining)
        {
            _connection?.Flush();
            _drained.TrySetResult();
        }
    }

    /// <summary>The frames from <paramref name="start"/> on, each an array of its own: the handler keeps them.</summary>
    private static ReadOnlyMemory<byte>[] BodyFrom(MessageFrames message, int start)
    {
        var body = new ReadOnlyMemory<byte>[Math.Max(0, message.Count - start)];
        for (var i = 0; i < body.Length; i++)
        {
            body[i] = message.ToArray(start + i);
        }

        return body;
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _clock.TimestampFrequency);
}
