using System.Buffers.Binary;
using System.Text;
using Courier.Diagnostics.Internal;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Worker.Internal;

/// <summary>
/// A running worker's loop-side state: its links to the broker (<see cref="WorkerLink"/>: one connection for all its
/// services with a courier/4 broker, one per service otherwise), each connection replaced on reconnect with backoff,
/// registration after negotiation, heartbeats both ways; each request it receives goes to <see cref="WorkerRequests"/>,
/// which runs it and answers it. Loop thread only, except <see cref="InFlight"/>.
/// </summary>
internal sealed class WorkerEngine : IDisposable
{
    private static readonly TimeSpan MinimumLinger = TimeSpan.FromSeconds(1);
    private readonly CourierWorkerOptions _options;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly ITransportLoop _loop;
    private readonly TimeProvider _clock;
    private readonly TransportOptions _transport;
    private readonly WorkerRequests _requests;
    private readonly WorkerInbox _inbox;
    private readonly ViolationLog _violations;
    private readonly List<byte[]> _received = [];
    private readonly List<WorkerLink> _links = [];
    private readonly Func<WorkerConnection, MessageFrames, bool> _onMessage;
    private readonly Action<int, int, bool> _onRefusedReplies;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _said = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _read = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _confirmingRead;
    private readonly long _heartbeatTicks;
    private readonly long _livenessTicks;
    private bool _brokerAnswered;
    private bool _saidDisconnect;

    public WorkerEngine(CourierWorkerOptions options, IReadOnlyList<WorkerService> services, ITransportLoop loop, ILogger logger)
    {
        _options = options;
        _name = WorkerName.Sanitize(options.Name);
        _loop = loop;
        _logger = logger;
        _clock = options.TimeProvider;
        // A short linger at least, so the last replies of a graceful stop leave before the socket closes.
        _transport = options.Transport.Linger >= MinimumLinger ? options.Transport : options.Transport with { Linger = MinimumLinger };
        _heartbeatTicks = Ticks(options.HeartbeatInterval);
        _livenessTicks = Ticks(options.HeartbeatInterval * options.HeartbeatLiveness);
        _onMessage = OnMessage;
        _onRefusedReplies = RefusedReplies;
        _links.Add(new WorkerLink(services, options.ReconnectDelay));
        _violations = new ViolationLog(logger, $"Worker {options.Name}", TelemetryRole.Worker, options.Transport, options.TimeProvider);
        _requests = new WorkerRequests(options, services, loop, _violations, logger, OnTurnEnd);
        _inbox = new WorkerInbox(_requests, _violations, _name, options.Name, logger);
    }

    /// <summary>The loop's stop hook: lent frames of requests that will not be answered now go back.</summary>
    public void OnStopped() => _requests.OnStopped();

    public int InFlight => _requests.InFlight;

    /// <summary>What the broker made this worker drop or refuse, counted and logged at a bounded rate.</summary>
    public ViolationLog Violations => _violations;

    /// <summary>Draining, every handler done and every reply handed to the transport (none held for a broker that does not read).</summary>
    public Task Drained => _drained.Task;

    /// <summary>The first connection: one for all the services, until the broker's answer says otherwise.</summary>
    public void Connect() => Connect(_links[0], null);

    /// <summary>The loop's end of turn: the replies packed this turn leave.</summary>
    public void OnTurnEnd()
    {
        foreach (var link in _links)
        {
            if (link.Connection is not { } connection)
            {
                continue;
            }

            connection.Flush();
            if (connection.HoldsTooMuch)
            {
                Reconnect(link, "it holds more bytes of replies the broker has not read than TransportOptions.MaxPendingBytesPerPeer", LogLevel.Warning);
            }
        }

        CheckDrained();
    }

    private void CheckDrained()
    {
        if (_requests.Drained.IsCompleted && !_drained.Task.IsCompleted && !HoldsReplies())
        {
            _drained.TrySetResult();
        }
    }

    private void CheckSaid()
    {
        if (!HoldsReplies())
        {
            _said.TrySetResult();
        }
    }

    private bool HoldsReplies()
    {
        foreach (var link in _links)
        {
            if (link.Connection is { HoldsReplies: true })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>After <see cref="SayDisconnect"/>: every connection's DISCONNECT, and what was held before it, handed to the transport.</summary>
    public Task Said => _said.Task;

    public void OnTick()
    {
        _violations.OnTick();
        if (_saidDisconnect)
        {
            // A DISCONNECT refused with the last replies (the broker had not read them yet) goes now, if it can.
            foreach (var link in _links)
            {
                link.Connection?.RetryHeld();
            }

            CheckSaid();
            CheckRead();
            return;
        }

        var now = _clock.GetTimestamp();
        _requests.OnTick(now);

        // By index: a link that registers may split, adding links at the end (they start connected).
        for (var i = 0; i < _links.Count; i++)
        {
            OnTick(_links[i], now);
        }

        CheckDrained();
    }

    /// <summary>Graceful stop begins: no new work; <see cref="Drained"/> completes once the handlers are done and their replies sent.</summary>
    public void BeginDrain() => _requests.BeginDrain();

    public Task CancelHandlersAsync() => _requests.CancelHandlersAsync();

    /// <summary>The last replies, then DISCONNECT on every connection; nothing more goes out (a heartbeat now would be a protocol violation).</summary>
    public void SayDisconnect()
    {
        // Drained when no handler runs and nothing waits: every request taken was answered, on the loop, before this.
        var drained = _requests.Idle;
        foreach (var link in _links)
        {
            link.Connection?.SayDisconnect(drained);
        }

        _saidDisconnect = true;
        CheckSaid();
    }

    /// <summary>
    /// After <see cref="SayDisconnect"/>: completes once every connection's broker has read what this worker sent, as far
    /// as it can know (<see cref="WorkerConnection.IsRead"/>: a Courier broker is asked, after the DISCONNECT and what was
    /// held before it), or has been silent for the heartbeat liveness span since it was last heard, or has read nothing
    /// of what is held for as long: dead as anywhere else.
    /// Closed before, a connection could drop the last replies it had not yet written, or be reset under a broker that had
    /// not yet read them. Checked again at every tick.
    /// </summary>
    public Task ConfirmRead()
    {
        _confirmingRead = true;
        CheckRead();
        return _read.Task;
    }

    private void CheckRead()
    {
        if (!_confirmingRead || _read.Task.IsCompleted)
        {
            return;
        }

        var now = _clock.GetTimestamp();
        foreach (var link in _links)
        {
            if (link.Connection is { } connection && !connection.IsRead() && now - connection.LastHeard <= _livenessTicks
                && connection.HeldStalledFor(now) <= _livenessTicks)
            {
                return;
            }
        }

        _read.TrySetResult();
    }

    public void Dispose() => _requests.Dispose();

    private void Connect(WorkerLink link, Negotiation? known)
    {
        link.ReconnectAt = long.MaxValue;
        if (_requests.Draining)
        {
            return;
        }

        var now = _clock.GetTimestamp();
        var negotiation = known ?? new Negotiation(_options.Protocol, now + _livenessTicks, ProtocolVersions.OfferFor(_options.Transport.MaxFrameSize));
        WorkerConnection connection;
        try
        {
            connection = new WorkerConnection(_loop, _options.BrokerEndpoint, _transport, link, negotiation, _onMessage, _onRefusedReplies, _clock, now) { NextHeartbeat = now + _heartbeatTicks };
        }
#pragma warning disable CA1031 // The transport refused the address: try again later, as after any lost connection.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // Not routine, unlike a lost broker: the endpoint itself is refused (a typo, a name that does not resolve).
            Reconnect(link, $"cannot connect: {ex.Message}", LogLevel.Warning);
            return;
        }

        link.Connection = connection;
        if (CourierMetrics.WorkerConnections.Enabled)
        {
            CourierMetrics.WorkerConnections.Add(1);
        }

        if (negotiation.Mode != PeerMode.Probing)
        {
            Register(link, connection);
        }
    }

    private void OnTick(WorkerLink link, long now)
    {
        if (now >= link.ReconnectAt)
        {
            Connect(link, null);
            return;
        }

        if (link.Connection is not { } connection)
        {
            return;
        }

        connection.RetryHeld();
        if (connection.Negotiation.Mode == PeerMode.Probing && now >= connection.Negotiation.ProbeDeadline)
        {
            if (_brokerAnswered && !link.OutageReported)
            {
                // This broker answered a probe before: silence now means it is away (restarting, say), not that a
                // broker without 8/MMI took its place. Registering as plain 7/MDP would only be undone when it answers.
                // Once the outage is long enough to be reported, the worker registers anyway, in case it did.
                Reconnect(link, "no answer from the broker");
                return;
            }

            // No 8/MMI answer: a broker without MMI, or none yet. Register as plain 7/MDP; a late Courier answer re-registers.
            connection.Negotiation.Settle(PeerMode.Plain);
            Register(link, connection);
        }

        if (now - connection.LastHeard > _livenessTicks)
        {
            Reconnect(link, "no heartbeat from the broker");
            return;
        }

        if (connection.HeldStalledFor(now) > _livenessTicks)
        {
            // It heartbeats and reads nothing: as good as gone, and what is held would be held for as long as it does so.
            Reconnect(link, "the broker has read nothing of what this worker sent for the heartbeat expiry", LogLevel.Warning);
            return;
        }

        // No heartbeats before READY: to a 7/MDP broker, a heartbeat from an unknown worker is an error.
        if (now >= connection.NextHeartbeat && connection.Negotiation.Mode != PeerMode.Probing)
        {
            connection.NextHeartbeat = now + _heartbeatTicks;
            connection.SendCommand(MdpWorker.HeartbeatFrame);
        }
    }

    private bool OnMessage(WorkerConnection connection, MessageFrames message)
    {
        switch (WorkerInbound.Classify(message))
        {
            case WorkerMessageKind.ProbeAnswer when message.TotalLength > ProtocolVersions.MaxProbeAnswerLength:
                _inbox.Unexpected(message.Count, "a probe's answer too large to be one");
                return true;
            case WorkerMessageKind.ProbeAnswer:
                Heard(connection, kept: false);
                message.CopyTo(_received);
                OnProbeAnswer(connection, _received);
                _received.Clear(); // nothing of a peer's message kept past it
                return !connection.Closed;
            case WorkerMessageKind.CourierRequest:
                Heard(connection);
                _inbox.OnCourierRequest(connection, message);
                return true;
            case WorkerMessageKind.Courier5Request:
                Heard(connection);
                _inbox.OnCourier5Request(connection, message);
                return true;
            case WorkerMessageKind.Cancel:
                Heard(connection);
                _requests.OnCancel(connection, BinaryPrimitives.ReadUInt64BigEndian(message[0][7..]));
                return true;
            case WorkerMessageKind.RequestBatch:
                Heard(connection);
                _inbox.OnRequestBatch(connection, message);
                return true;
            case WorkerMessageKind.MdpCommand:
                Heard(connection, kept: message[2][0] != MdpWorker.Disconnect);
                OnCommand(connection, message);
                return !connection.Closed;
            default:
                _inbox.Unexpected(message.Count, "not a 7/MDP worker message");
                return true;
        }
    }

    /// <summary>
    /// READY for each service of the link. A link of several services on a connection whose broker does not speak
    /// courier/4 first splits: it keeps the first, and each other service gets a connection of its own, settled on what
    /// this one learned, so that it sends no probe.
    /// </summary>
    private void Register(WorkerLink link, WorkerConnection connection)
    {
        var negotiation = connection.Negotiation;
        if (link.Services.Count > 1 && !negotiation.PeerMultiService)
        {
            foreach (var service in link.SplitOff())
            {
                var single = new WorkerLink([service], _options.ReconnectDelay);
                _links.Add(single);
                Connect(single, Negotiation.Settled(negotiation.Version));
            }
        }

        var courier = negotiation.Mode == PeerMode.Courier;
        var protocol = courier ? $"courier/{negotiation.Version}" : "7/MDP";
        foreach (var service in link.Services)
        {
            var capacity = courier ? service.Capacity : 1;
            WorkerLog.Registering(_logger, _options.Name, service.Name, _options.BrokerEndpoint, protocol, capacity);
            connection.SayReady(service, capacity, _name);
        }

        // The broker's heartbeats are due from now on: a broker without 8/MMI sends nothing before READY.
        connection.LastHeard = _clock.GetTimestamp();
    }

    /// <summary>
    /// Drops the link's connection and connects again after its backoff. Replies to the old connection's requests are
    /// dropped with it: the broker gives those requests to others. A reconnect is routine (a broker restart, a broker
    /// that expired this worker): Information; a warning only once attempts failed until the backoff grew to its longest,
    /// once per outage.
    /// </summary>
    private void Reconnect(WorkerLink link, string reason, LogLevel level = LogLevel.Information)
    {
        link.Connection?.Dispose();
        link.Connection = null;

        _requests.DropWaitingOf(link);
        if (_requests.Draining)
        {
            return;
        }

        WorkerLog.Reconnecting(_logger, level, _options.Name, _options.BrokerEndpoint, reason, link.ReconnectDelay);
        if (++link.FailedAttempts > 1 && link.ReconnectDelay >= _options.ReconnectDelayMax && !link.OutageReported)
        {
            link.OutageReported = true;
            WorkerLog.StillUnreachable(_logger, _options.Name, _options.BrokerEndpoint, reason);
        }

        link.ReconnectAt = _clock.GetTimestamp() + Ticks(link.ReconnectDelay);
        link.ReconnectDelay = TimeSpan.FromTicks(Math.Min(link.ReconnectDelay.Ticks * 2, _options.ReconnectDelayMax.Ticks));
    }

    /// <summary>
    /// Anything from the broker; <paramref name="kept"/> when it is a heartbeat or work, a sign that the broker keeps this
    /// worker, so that a later loss starts the backoff afresh. A probe's answer or a DISCONNECT is no such sign: a broker
    /// that answers and then says DISCONNECT meets a growing backoff, not a reconnect (and its log lines) every tick.
    /// </summary>
    private void Heard(WorkerConnection connection, bool kept = true)
    {
        connection.LastHeard = _clock.GetTimestamp();
        if (!kept)
        {
            return;
        }

        connection.Link.ReconnectDelay = _options.ReconnectDelay;
        connection.Link.FailedAttempts = 0;
        connection.Link.OutageReported = false;
    }

    private void OnProbeAnswer(WorkerConnection connection, List<byte[]> frames)
    {
        _brokerAnswered = true;
        if (connection.AwaitsReadReceipt)
        {
            connection.ReadReceiptCame();
            CheckRead();
            return;
        }

        if (connection.Negotiation.Mode == PeerMode.Probing)
        {
            if (!connection.Negotiation.Answered(frames))
            {
                // A broker from before courier/4: asked again, offering courier/3, with as long to answer as the first.
                connection.Negotiation.ProbeAgain(_clock.GetTimestamp() + _livenessTicks);
                connection.SendProbe();
                return;
            }

            Register(connection.Link, connection);
        }
        else if (Negotiation.VersionOf(frames) is var version and >= 2 && connection.Negotiation.Mode == PeerMode.Plain
            && _requests.InFlight == 0 && !HoldsReplies())
        {
            Regroup("the broker turned out to speak Courier after the probe timed out", brokerReadsDrained: version >= 6);
        }
    }

    /// <summary>
    /// Every service on one link again, connecting afresh: the plain 7/MDP registrations made when the probe went
    /// unanswered (a worker started before its broker, say) are replaced by one connection that negotiates again. Only
    /// while nothing runs, so no reply is lost. Each plain connection says DISCONNECT first, so that the broker forgets it
    /// at once rather than after its liveness; and "drained" when the broker reads it (courier/6): a request it gave that
    /// registration and this worker never read (closed with the connection) goes to another worker, rather than being
    /// answered "outcome unknown" when the registration expires.
    /// </summary>
    private void Regroup(string reason, bool brokerReadsDrained)
    {
        var link = new WorkerLink([.. _links.SelectMany(l => l.Services)], _options.ReconnectDelay);
        foreach (var old in _links)
        {
            old.Connection?.SayDisconnect(drained: _requests.Idle, brokerReadsDrained);
            old.Connection?.Dispose();
            old.Connection = null;
        }

        _links.Clear();
        _links.Add(link);
        Reconnect(link, reason);
    }

    private void OnCommand(WorkerConnection connection, MessageFrames message)
    {
        switch (message[2][0])
        {
            case MdpWorker.Request when message.Count >= 5:
                _inbox.OnMdpRequest(connection, message);
                break;
            case MdpWorker.Heartbeat:
                break;
            case MdpWorker.Disconnect:
                // What a broker says to a worker it does not know: after its restart, or once it expired this one.
                Reconnect(connection.Link, "the broker said DISCONNECT");
                break;
            default:
                _inbox.Unexpected(message.Count, "unknown or malformed command");
                break;
        }
    }

    /// <summary>
    /// The socket refused replies (the broker has not read what it was sent): held, to be sent again; or
    /// <paramref name="lost"/>, held still when their connection ended, and their callers learn it from the broker (their
    /// requests given to another worker, or answered 520). Counted and logged, at a bounded rate.
    /// </summary>
    private void RefusedReplies(int count, int held, bool lost)
    {
        if (_violations.Admit(lost ? ViolationKind.DroppedReply : ViolationKind.HeldReply, count))
        {
            if (lost)
            {
                WorkerLog.RepliesDropped(_logger, _options.Name, count);
            }
            else
            {
                WorkerLog.RepliesHeld(_logger, _options.Name, held, count);
            }
        }
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _clock.TimestampFrequency);
}
