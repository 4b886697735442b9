using System.Buffers.Binary;
using System.Text;
using Courier.Diagnostics.Internal;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Serving.Internal;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Worker.Internal;

/// <summary>
/// A running worker's loop-side state: its links to the broker (<see cref="WorkerLink"/>: one connection for all its
/// services with a courier/4 broker, one per service otherwise), each connection replaced on reconnect with backoff,
/// registration after negotiation, heartbeats both ways, and the runner of its handlers. Loop thread only, except
/// <see cref="InFlight"/>.
/// </summary>
internal sealed class WorkerEngine : IGaugeSource, IDisposable
{
    private static readonly TimeSpan MinimumLinger = TimeSpan.FromSeconds(1);
    private static readonly byte[] WorkerStopping = Encoding.UTF8.GetBytes("worker stopping");
    private static readonly byte[] DeadlineWhileWaiting = Encoding.UTF8.GetBytes("the request's deadline passed while it waited for a handler");
    private static readonly byte[] CancelledWhileWaiting = Encoding.UTF8.GetBytes("the request's caller cancelled it while it waited for a handler");
    private readonly CourierWorkerOptions _options;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly ITransportLoop _loop;
    private readonly TimeProvider _clock;
    private readonly TransportOptions _transport;
    private readonly HandlerRunner<WorkerJob> _runner;
    private readonly Dictionary<ulong, HandlerCall> _calls = [];
    private readonly ViolationLog _violations;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<byte[]> _received = [];
    private readonly List<WorkerLink> _links = [];
    private readonly Func<WorkerConnection, MessageFrames, bool> _onMessage;
    private readonly long _heartbeatTicks;
    private readonly long _livenessTicks;
    private readonly IDisposable _gauges;
    private readonly IReadOnlyList<WorkerService> _services; // the links regroup these same instances; read off the loop by metrics
    private readonly Queue<WorkerService> _freed = new();
    private bool _startingWaiting;
    private bool _brokerAnswered;
    private bool _draining;
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
        _services = services;
        _links.Add(new WorkerLink(services, options.ReconnectDelay));
        _violations = new ViolationLog(logger, $"Worker {options.Name}", TelemetryRole.Worker, options.Transport, options.TimeProvider);
        // The broker bounds what it gives per service by the capacity declared in READY; the worker checks it too
        // (OnRequest), since a broker may be a third party's, or hostile.
        _runner = new HandlerRunner<WorkerJob>(TelemetryRole.Worker, loop, int.MaxValue, 0, options.RunHandlersInline, "worker stopped before the request finished", logger, Complete)
        {
            OnIdle = OnIdle,
            Abandon = static job => job.Lent.Dispose(),
        };
        _gauges = LiveGauges.Register(this);
    }

    /// <summary>The loop's stop hook: lent frames of requests that will not be answered now go back (<see cref="HandlerRunner{TContext}.OnLoopStopped"/>).</summary>
    public void OnStopped()
    {
        _runner.OnLoopStopped();
        foreach (var service in _services)
        {
            while (service.Waiting.TryTake(out var waiting))
            {
                waiting.Body.Lent.Dispose();
            }
        }
    }

    public int InFlight => _runner.InFlight;

    /// <summary>What the broker made this worker drop or refuse, counted and logged at a bounded rate.</summary>
    public ViolationLog Violations => _violations;

    /// <summary>Completes once a drain began and no handler runs any more.</summary>
    public Task Drained => _drained.Task;

    /// <summary>The first connection: one for all the services, until the broker's answer says otherwise.</summary>
    public void Connect() => Connect(_links[0], null);

    /// <summary>The loop's end of turn: the replies packed this turn leave.</summary>
    public void OnTurnEnd()
    {
        foreach (var link in _links)
        {
            link.Connection?.Flush();
        }
    }

    public void OnTick()
    {
        _violations.OnTick();
        if (_saidDisconnect)
        {
            return;
        }

        var now = _clock.GetTimestamp();
        _runner.OnTick(now);

        // By index: a link that registers may split, adding links at the end (they start connected).
        for (var i = 0; i < _links.Count; i++)
        {
            OnTick(_links[i], now);
        }
    }

    /// <summary>Graceful stop begins: no new work; <see cref="Drained"/> completes once the handlers are done.</summary>
    public void BeginDrain()
    {
        _draining = true;

        // Requests waiting for a place never ran: answered 503 now, so that their callers may send them elsewhere at once.
        foreach (var service in _services)
        {
            while (service.Waiting.TryTake(out var waiting))
            {
                Refuse(waiting, CourierStatus.Unavailable, WorkerStopping);
            }
        }

        if (_runner.Idle)
        {
            _drained.TrySetResult();
        }
    }

    public Task CancelHandlersAsync() => _runner.CancelAsync();

    /// <summary>The last replies, then DISCONNECT on every connection; nothing more goes out (a heartbeat now would be a protocol violation).</summary>
    public void SayDisconnect()
    {
        foreach (var link in _links)
        {
            link.Connection?.Flush();
            link.Connection?.SendCommand(MdpWorker.DisconnectFrame);
        }

        _saidDisconnect = true;
    }

    public void Dispose()
    {
        _gauges.Dispose();
        _runner.Dispose();
    }

    /// <summary>Handlers running: read off the loop by a metrics collection.</summary>
    void IGaugeSource.Read(GaugeReadings readings)
    {
        readings.Add(Gauge.WorkerActive, _runner.InFlight);
        foreach (var service in _services)
        {
            readings.Add(Gauge.WorkerQueued, service.Waiting.CountNow, service.Name);
        }
    }

    private void Connect(WorkerLink link, Negotiation? known)
    {
        link.ReconnectAt = long.MaxValue;
        if (_draining)
        {
            return;
        }

        var now = _clock.GetTimestamp();
        var negotiation = known ?? new Negotiation(_options.Protocol, now + _livenessTicks, ProtocolVersions.Courier5);
        WorkerConnection connection;
        try
        {
            connection = new WorkerConnection(_loop, _options.BrokerEndpoint, _transport, link, negotiation, _onMessage, now) { NextHeartbeat = now + _heartbeatTicks };
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
            case WorkerMessageKind.ProbeAnswer:
                Heard(connection);
                message.CopyTo(_received);
                OnProbeAnswer(connection, _received);
                return !connection.Closed;
            case WorkerMessageKind.CourierRequest:
                Heard(connection);
                // "CURW02"+0x02+token[+service], body…: answered by its token.
                var header = message[0];
                var address = new ReplyAddress(BinaryPrimitives.ReadUInt64BigEndian(header[7..]), null);
                if (Admit(connection, header[CourierWorkerFrame.RequestLength..], address, message.Count) is { } service)
                {
                    Run(connection, service, address, BodyFrom(message, 1));
                }

                return true;
            case WorkerMessageKind.Courier5Request:
                Heard(connection);
                OnCourier5Request(connection, message);
                return true;
            case WorkerMessageKind.Cancel:
                Heard(connection);
                OnCancel(connection, BinaryPrimitives.ReadUInt64BigEndian(message[0][7..]));
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
                Unexpected(message.Count, "not a 7/MDP worker message");
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

        // What waited for a handler came by the closed connection: the broker takes it back, and its places go to
        // the requests of the next connection.
        foreach (var service in link.Services)
        {
            service.Waiting.Drop(static waiting => waiting.Connection.Closed, Drop);
        }

        if (_draining)
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

    private void Heard(WorkerConnection connection)
    {
        connection.LastHeard = _clock.GetTimestamp();
        connection.Link.ReconnectDelay = _options.ReconnectDelay;
        connection.Link.FailedAttempts = 0;
        connection.Link.OutageReported = false;
    }

    private void OnProbeAnswer(WorkerConnection connection, List<byte[]> frames)
    {
        _brokerAnswered = true;
        if (connection.Negotiation.Mode == PeerMode.Probing)
        {
            if (!connection.Negotiation.Answered(frames))
            {
                connection.SendProbe(); // a broker from before courier/4: asked again, offering courier/3
                return;
            }

            Register(connection.Link, connection);
        }
        else if (Negotiation.VersionOf(frames) >= 2 && connection.Negotiation.Mode == PeerMode.Plain && _runner.InFlight == 0)
        {
            Regroup("the broker turned out to speak Courier after the probe timed out");
        }
    }

    /// <summary>
    /// Every service on one link again, connecting afresh: the plain 7/MDP registrations made when the probe went
    /// unanswered (a worker started before its broker, say) are replaced by one connection that negotiates again. Only
    /// while nothing runs, so no reply is lost.
    /// </summary>
    private void Regroup(string reason)
    {
        var link = new WorkerLink([.. _links.SelectMany(l => l.Services)], _options.ReconnectDelay);
        foreach (var old in _links)
        {
            old.Connection?.Dispose();
            old.Connection = null;
        }

        _links.Clear();
        _links.Add(link);
        Reconnect(link, reason);
    }

    /// <summary>A courier/5 REQUEST: <c>"CURW05"+0x02+token+budget+service length+service+headers, body…</c>.</summary>
    private void OnCourier5Request(WorkerConnection connection, MessageFrames message)
    {
        var header = message.ToArray(0); // the handler keeps its headers: a copy of the header frame holds them
        if (!CourierWorkerFrame5.TryReadRequest(header, out var token, out var budgetMs, out var serviceName, out var headers))
        {
            Unexpected(message.Count, "a courier/5 REQUEST cut short");
            return;
        }

        var address = new ReplyAddress(token, null);
        if (Admit(connection, serviceName, address, message.Count) is { } service)
        {
            Run(connection, service, address, BodyFrom(message, 1), budgetMs, header.AsMemory(header.Length - headers.Length));
        }
    }

    /// <summary>The broker cancelled a request it gave this worker: its caller gave up (courier/5); the handler's token fires.</summary>
    private void OnCancel(WorkerConnection connection, ulong token)
    {
        if (_calls.TryGetValue(token, out var call) && connection.Negotiation.PeerDelivery)
        {
            call.Fire(CallCancel.Caller);

            // Still waiting for a handler: answered now, so that the broker's place for it frees up at once; it never runs.
            if (call is WaitingCall { Queue: { } queue } waiting && queue.Withdraw(waiting))
            {
                _calls.Remove(token);
                if (CanAnswerOn(connection))
                {
                    connection.Reply(new ReplyAddress(token, null), CourierStatus.DeadlineExceeded, [CancelledWhileWaiting]);
                }
            }
        }
    }

    /// <summary>A batch of REQUESTs (docs/protocol.md §6): copied once; each handler's body is a slice of that copy.</summary>
    private void OnRequestBatch(WorkerConnection connection, MessageFrames message)
    {
        var data = message.ToArray(0);
        var reader = new BatchReader(data);
        var courier5 = data[6] == Batch.WorkerRequest5;
        while (reader.TryRead(out var record))
        {
            // Under courier/4 the tag names the service; before it, it is empty. Under courier/5 the meta holds the budget, then the headers.
            var address = new ReplyAddress(record.Id, null);
            var budgetMs = courier5 && record.Meta.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(record.Meta) : 0;
            var headers = courier5 && record.Meta.Length >= 4 ? data.AsMemory(record.MetaOffset + 4, record.Meta.Length - 4) : default;
            if (Admit(connection, record.Tag, address, 1) is { } service)
            {
                Run(connection, service, address, new LentBody([data.AsMemory(record.BodyOffset, record.Body.Length)], default), budgetMs, headers);
            }
        }

        if (reader.Malformed)
        {
            Unexpected(1, "a batch with a malformed record");
        }
    }

    private void OnCommand(WorkerConnection connection, MessageFrames message)
    {
        switch (message[2][0])
        {
            case MdpWorker.Request when message.Count >= 5:
                // ["", MDPW01, REQUEST, client address, "", body…]; the address is opaque and goes back unchanged. A
                // plain 7/MDP connection carries one service.
                var address = new ReplyAddress(0, message.ToArray(3));
                if (Admit(connection, default, address, message.Count) is { } service)
                {
                    Run(connection, service, address, BodyFrom(message, message.Length(4) == 0 ? 5 : 4));
                }

                break;
            case MdpWorker.Heartbeat:
                break;
            case MdpWorker.Disconnect:
                // What a broker says to a worker it does not know: after its restart, or once it expired this one.
                Reconnect(connection.Link, "the broker said DISCONNECT");
                break;
            default:
                Unexpected(message.Count, "unknown or malformed command");
                break;
        }
    }

    /// <summary>
    /// The service a request may run for now; otherwise it is answered at once and null returned: 503 while stopping, 404
    /// for a service the connection does not serve, 429 (503 to a broker that does not speak Courier) when the service
    /// already runs its <c>Concurrency</c> of handlers
    /// and holds its <c>Prefetch</c> of requests waiting (whatever the broker sends, a worker never runs or holds more: its
    /// body is not even copied).
    /// </summary>
    private WorkerService? Admit(WorkerConnection connection, ReadOnlySpan<byte> serviceName, ReplyAddress address, int frameCount)
    {
        if (_draining && connection.Negotiation.Mode == PeerMode.Courier)
        {
            connection.Reply(address, CourierStatus.Unavailable, [WorkerStopping]);
            return null;
        }

        if (connection.Link.Find(serviceName) is not { } service)
        {
            var name = serviceName.IsEmpty ? "(none)" : Encoding.UTF8.GetString(serviceName);
            Unexpected(frameCount, $"a request for {name}, which this connection does not serve");
            connection.Reply(address, CourierStatus.NotFound, [Encoding.UTF8.GetBytes($"no service '{name}' on worker {_name}")]);
            return null;
        }

        if (!service.HasRoom)
        {
            // To a Courier broker 429, not 503: the worker is not stopping, and the broker must not take it for stopping.
            var status = connection.Negotiation.Mode == PeerMode.Courier ? CourierStatus.TooManyRequests : CourierStatus.Unavailable;
            if (_violations.Admit(ViolationKind.OverCapacity))
            {
                WorkerLog.OverCapacity(_logger, _options.Name, service.Name, service.Concurrency, service.Prefetch, status);
            }

            connection.Reply(
                address,
                status,
                [Encoding.UTF8.GetBytes($"worker {_name} already runs {service.Concurrency} requests of {service.Name}, and {service.Prefetch} more wait")]);
            return null;
        }

        return service;
    }

    private void Run(
        WorkerConnection connection, WorkerService service, ReplyAddress address, LentBody body, uint budgetMs = 0, ReadOnlyMemory<byte> headers = default)
    {
        if (HeaderBlock.Check(headers.Span) is { } problem)
        {
            // The broker checked them; a worker checks again rather than trust its peer.
            body.Lent.Dispose();
            connection.Reply(address, CourierStatus.BadRequest, [Encoding.UTF8.GetBytes(problem)]);
            return;
        }

        // A courier/5 request's handler gets a token of its own: it fires at the deadline and on the broker's CANCEL.
        HandlerCall? call = null;
        if (connection.Negotiation.PeerDelivery && address.PlainAddress is null)
        {
            call = new WaitingCall(Delivery.DeadlineOf(budgetMs, _clock));
            _calls[address.Token] = call;
        }

        var request = new WaitingRequest(connection, address, body, headers, call);
        if (service.Running < service.Concurrency)
        {
            Start(service, request);
        }
        else
        {
            service.Waiting.Add(request); // Admit saw room for it
        }
    }

    private void Start(WorkerService service, WaitingRequest request)
    {
        var (connection, address, body, headers, call) = request;
        var handled = new CourierRequest(service.Name, body.Frames, headers);
        var parent = TraceHeaders.Parent(headers.Span);
        var job = new WorkerJob(connection, address, service.Take(), call, body.Lent); // the place last: nothing after it throws before the runner has it
        if (!_runner.TryRun(service.Handler, handled, job, call, parent))
        {
            // Not reached while Admit keeps to the service's concurrency; answered all the same, never left hanging.
            job.Slot.Release();
            body.Lent.Dispose();
            connection.Reply(address, CourierStatus.Unavailable, [Encoding.UTF8.GetBytes($"worker {_name} is busy")]);
        }
    }

    /// <summary>
    /// A handler of <paramref name="service"/> finished: the requests waiting for its place start, oldest first. Inline
    /// handlers that finish at once come back here: they only queue their service, and the outermost call starts it, so
    /// that a long queue never becomes a deep stack.
    /// </summary>
    private void StartWaiting(WorkerService service)
    {
        if (service.Waiting.Count == 0)
        {
            return;
        }

        _freed.Enqueue(service);
        if (_startingWaiting)
        {
            return;
        }

        _startingWaiting = true;
        try
        {
            while (_freed.TryDequeue(out var freed))
            {
                while (freed.Running < freed.Concurrency && freed.Waiting.TryTake(out var waiting))
                {
                    try
                    {
                        StartOrRefuse(freed, waiting);
                    }
#pragma warning disable CA1031 // This runs inside another request's completion: a fault here must not fail that one's answer.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        LoopGuard.Report(ex, _logger, "starting a waiting request");
                        Drop(waiting);
                    }
                }
            }
        }
        finally
        {
            _startingWaiting = false;
        }
    }

    private void StartOrRefuse(WorkerService service, WaitingRequest waiting)
    {
        if (!CanAnswerOn(waiting.Connection))
        {
            // Its connection is gone: the broker has taken it back (requeued, or answered its caller), and no reply can
            // reach it any more.
            Drop(waiting);
            return;
        }

        // A caller's CANCEL withdrew its request already (OnCancel): only a deadline can have passed while it waited.
        if (waiting.Call is { } call && call.Deadline <= _clock.GetTimestamp())
        {
            Refuse(waiting, CourierStatus.DeadlineExceeded, DeadlineWhileWaiting);
            return;
        }

        Start(service, waiting);
    }

    /// <summary>Answers a waiting request that will not run, and lets it go.</summary>
    private void Refuse(WaitingRequest waiting, int status, byte[] message)
    {
        Forget(waiting);
        if (CanAnswerOn(waiting.Connection))
        {
            waiting.Connection.Reply(waiting.Address, status, [message]);
        }

        waiting.Body.Lent.Dispose();
    }

    /// <summary>Lets a waiting request go unanswered: nobody can receive its answer.</summary>
    private void Drop(WaitingRequest waiting)
    {
        Forget(waiting);
        waiting.Body.Lent.Dispose();
    }

    private void Forget(WaitingRequest waiting)
    {
        if (waiting.Call is { } call && _calls.TryGetValue(waiting.Address.Token, out var current) && ReferenceEquals(current, call))
        {
            _calls.Remove(waiting.Address.Token);
        }
    }

    /// <summary>
    /// Whether an answer sent on <paramref name="connection"/> reaches the broker that gave the request: not on an earlier
    /// connection (the broker has taken its requests back) nor after DISCONNECT (the broker has forgotten this worker).
    /// </summary>
    private bool CanAnswerOn(WorkerConnection connection)
        => !connection.Closed && ReferenceEquals(connection.Link.Connection, connection) && !_saidDisconnect;

    private void Unexpected(int frameCount, string reason)
    {
        if (_violations.Admit(ViolationKind.UnexpectedMessage))
        {
            WorkerLog.Unexpected(_logger, _options.Name, frameCount, reason);
        }
    }

    private void Complete(WorkerJob job, HandlerOutcome outcome)
    {
        job.Slot.Release();
        if (job.Call is { } call && _calls.TryGetValue(job.Address.Token, out var current) && ReferenceEquals(current, call))
        {
            _calls.Remove(job.Address.Token);
        }

        if (CanAnswerOn(job.Connection))
        {
            outcome = outcome.For(job.Slot.Service.Idempotent);
            job.Connection.Reply(job.Address, outcome.Status, outcome.Body, outcome.Headers);
        }

        // After the reply: its body may be the request's, as an echo's is (sent on without a copy, libzmq holds it now).
        job.Lent.Dispose();
        StartWaiting(job.Slot.Service);
    }

    private void OnIdle()
    {
        if (_draining)
        {
            OnTurnEnd();
            _drained.TrySetResult();
        }
    }

    /// <summary>
    /// The frames from <paramref name="start"/> on for a handler: each an array of its own, but for large frames received
    /// as they came, which the handler borrows until its reply is sent (<see cref="LentFrames"/>).
    /// </summary>
    private static LentBody BodyFrom(MessageFrames message, int start) => LentFrames.BodyFrom(message, start);

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _clock.TimestampFrequency);
}
