using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Security.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Broker.Internal;

/// <summary>
/// The worker side of the broker: registration (7/MDP READY and Courier's capability; under courier/4 one READY per
/// service on the same connection), requests out (one at a time, or batched for workers that take batches; their
/// replies are <see cref="WorkerReplies"/>'), heartbeats both ways, and dead workers, whose requests go back to the
/// front of their queues. Loop thread only.
/// </summary>
internal sealed class WorkerRegistry(CourierBrokerOptions options, ITransportSocket socket, ServiceTable services, ILogger logger, Courier.Internal.ViolationLog violations)
{
    private readonly Dictionary<byte[], WorkerPeer> _workers = new(ByteArrayComparer.Instance);
    private readonly TimeProvider _clock = options.TimeProvider;
    private readonly long _livenessTicks = (long)(options.HeartbeatInterval.TotalSeconds * options.HeartbeatLiveness * options.TimeProvider.TimestampFrequency);
    private readonly long _heartbeatTicks = (long)(options.HeartbeatInterval.TotalSeconds * options.TimeProvider.TimestampFrequency);
    private readonly List<byte[]> _received = [];
    private readonly WorkerSender _sender = new(socket);

    // Workers joining and leaving are logged, but at a bounded rate all the same: a peer cycling READY and DISCONNECT
    // would otherwise write two lines per cycle. The burst is generous (a deployment's workers all start at once).
    private readonly Courier.Internal.ViolationLog _churn = new(
        logger, "Broker", role: null, Math.Max(ChurnBurst, options.Transport.ViolationLogBurst), options.Transport.ViolationLogInterval, options.TimeProvider);

    /// <summary>Lines of workers registering, and of workers leaving, logged per <see cref="Transport.TransportOptions.ViolationLogInterval"/> at least.</summary>
    public const int ChurnBurst = 100;

    private const string Registrations = "worker registrations";
    private const string Departures = "worker departures";
    private WorkerBacklog? _backlog;
    private WorkerReplies? _replies;
    private Action<WorkerPeer>? _refused;
    private long _nextHeartbeat = options.TimeProvider.GetTimestamp() + (long)(options.HeartbeatInterval.TotalSeconds * options.TimeProvider.TimestampFrequency);

    // Made on first use: a field initializer cannot pass it the sender.
    private WorkerBacklog Backlog => _backlog ??= new(_sender, services, _clock, _livenessTicks, logger);

    /// <summary>The replies side: workers' answers settled against the requests they hold.</summary>
    public WorkerReplies Replies => _replies ??= new(this, services, _clock);

    /// <summary>The listener's allow-list and policy, which can withdraw a worker's registration; null when neither is set.</summary>
    public ListenerSecurity? Security { get; init; }

    /// <summary>A 7/MDP worker command: <c>id, "", "MDPW01", command, …</c>, copied into frames of its own.</summary>
    public void OnCommand(MessageFrames message)
    {
        // A known worker's identity is its own array: heartbeats and replies copy no routing id.
        TryFind(message[0], out var peer);
        var identity = peer?.Identity ?? message.ToArray(0);
        var frames = _received;
        frames.Clear();
        frames.Add(identity);
        for (var f = 1; f < message.Count; f++)
        {
            frames.Add(message.ToArray(f));
        }

        if (peer is not null)
        {
            peer.LastSeen = _clock.GetTimestamp();
        }

        var command = frames[3].Length == 1 ? frames[3][0] : (byte)0;
        switch (command)
        {
            case MdpWorker.Ready:
                OnReady(identity, peer, frames, message.UserId);
                break;
            case MdpWorker.Reply:
                Replies.OnReply(identity, peer, frames);
                break;
            case MdpWorker.Heartbeat:
                if (peer is null)
                {
                    // 7/MDP: a heartbeat from a worker we do not know (after a broker restart, or once expired) gets
                    // DISCONNECT, which tells the worker to reconnect and send READY again.
                    NotRegistered(identity, "HEARTBEAT");
                }

                break;
            case MdpWorker.Disconnect:
                if (peer is not null && (peer.SaysDrained || !peer.Courier) && frames.Count == 5 && frames[4].AsSpan().SequenceEqual(MdpWorker.DrainedFrame))
                {
                    // It answered all it took (docs/protocol.md §3): what it still holds crossed the DISCONNECT, never ran.
                    // Only this connection's: every connection is a peer of its own (a worker sets no routing id). Taken
                    // from a plain 7/MDP registration too: a Courier worker whose probe went unanswered says it when the
                    // late answer makes it register again (no stock worker sends the frame, and any peer could as well
                    // have registered under courier/6 to say it).
                    Remove(peer, "it stopped, having answered all it took", died: false, expected: true, unrun: true);
                }
                else if (peer is not null)
                {
                    Remove(peer, "it said DISCONNECT", died: false, expected: true);
                }

                break;
            default:
                Violation(identity, peer, $"unknown worker command {Courier.Internal.LogText.Hex(frames[3])}");
                break;
        }

        frames.Clear();
    }

    /// <summary>A peer's connection dropped: true when it was a worker (now removed, the requests of all its services requeued).</summary>
    public bool OnDisconnected(ReadOnlySpan<byte> identity)
    {
        if (!TryFind(identity, out var peer))
        {
            return false;
        }

        Remove(peer, "its connection dropped", died: true);
        return true;
    }

    /// <summary>Sends (or packs, for a worker that takes batches) <paramref name="request"/> to <paramref name="worker"/>. False when refused.</summary>
    public bool Send(BrokerWorker worker, BrokerRequest request) => _sender.Send(worker, request);

    /// <summary>Tells a courier/5 worker that the caller of request <paramref name="token"/> gave up.</summary>
    public void SendCancel(WorkerPeer peer, ulong token) => _sender.SendCancel(peer, token);

    /// <summary>
    /// Sends what was packed for workers this turn; a worker whose send is refused waits (<see cref="Refused"/>), and what
    /// went back is offered to the other workers, whose batches are then sent in turn.
    /// </summary>
    public void Flush()
    {
        _refused ??= Refused;
        do
        {
            _sender.Flush(_refused);
        }
        while (Backlog.DispatchRequeued());
    }

    /// <summary>A send to <paramref name="peer"/> was refused: what was refused goes back to the queue, and it waits (<see cref="WorkerBacklog"/>).</summary>
    public void Refused(WorkerPeer peer) => Backlog.Refused(peer);

    /// <summary>Expires silent workers, heartbeats the rest, and tries the workers that were behind again.</summary>
    public void OnTick()
    {
        // First: a worker that lost its right is sent nothing more, not even what the room below would give it.
        RemoveWithoutRights();
        _churn.OnTick();
        var now = _clock.GetTimestamp();
        List<WorkerPeer>? expired = null;
        List<BrokerWorker>? full = null;
        foreach (var peer in _workers.Values)
        {
            if (now - peer.LastSeen > _livenessTicks)
            {
                (expired ??= []).Add(peer);
            }
            else
            {
                FindFull(peer, ref full);
            }
        }

        foreach (var peer in expired ?? [])
        {
            // Tell it, in case it is only slow: it will then re-register instead of replying into the void.
            _sender.SendCommand(peer.Identity, MdpWorker.DisconnectFrame);
            Remove(peer, "silent past its heartbeat liveness", died: true, stalled: true);
        }

        // Not while walking the workers: a dispatch may remove one.
        foreach (var registration in full ?? [])
        {
            if (!registration.Peer.Removed)
            {
                registration.Room++;
                services.Dispatch(registration.Service);
            }
        }

        // After the expiry: a worker about to be dropped for its silence is not sent a request first.
        foreach (var peer in Backlog.RetryAll() ?? [])
        {
            // As a silent one: it may only be slow, so it is told, and what it holds waits one more liveness period.
            _sender.SendCommand(peer.Identity, MdpWorker.DisconnectFrame);
            Remove(peer, "it has not read what it was sent for a liveness period", died: false, stalled: true);
        }

        if (now >= _nextHeartbeat)
        {
            _nextHeartbeat = now + _heartbeatTicks;
            foreach (var peer in _workers.Values)
            {
                _sender.SendCommand(peer.Identity, MdpWorker.HeartbeatFrame);
            }
        }
    }

    /// <summary>
    /// A policy or allow-list re-read may take a registered worker's right to a service away: it is then sent
    /// DISCONNECT and forgotten, as if its READY came now, so that it gets no more requests (a leaked worker key would
    /// otherwise keep receiving other clients' requests until it disconnected by itself). What it held is handled as a
    /// departing worker's is: requests that may run again go back to their queues; the others are answered 520.
    /// </summary>
    private void RemoveWithoutRights()
    {
        if (Security is not { } security || _workers.Count == 0)
        {
            return;
        }

        List<(WorkerPeer Peer, string Service)>? revoked = null;
        foreach (var peer in _workers.Values)
        {
            foreach (var worker in peer.Registrations)
            {
                if (!security.MayServe(peer.UserId, worker.Service.Name))
                {
                    (revoked ??= []).Add((peer, worker.Service.Name));
                    break;
                }
            }
        }

        // All marked before any is removed: what a removal requeues must not go to another of them (replicas that share
        // one leaked key lose their rights together).
        foreach (var (peer, _) in revoked ?? [])
        {
            peer.Draining = true;
        }

        foreach (var (peer, service) in revoked ?? [])
        {
            if (violations.Admit(Courier.Internal.ViolationKind.ServeForbidden))
            {
                security.ServeRefused(peer.UserId, service);
            }

            _sender.SendCommand(peer.Identity, MdpWorker.DisconnectFrame);
            Remove(peer, $"its right to serve {service} was withdrawn", died: false);
        }
    }

    /// <summary>
    /// Forgets a worker's connection and every service it registered on it; the requests they held go back to the front
    /// of their queues, or fail as poison when they have killed too many. <paramref name="expected"/>: a goodbye, or a
    /// removal already logged as a warning, so the line is Information.
    /// </summary>
    /// <param name="peer">The worker's connection.</param>
    /// <param name="reason">Why, for the log.</param>
    /// <param name="died">It died (counts towards a request's <see cref="CourierBrokerOptions.MaxWorkerDeaths"/>).</param>
    /// <param name="expected">A goodbye or an already logged removal: logged as Information.</param>
    /// <param name="stalled">It may still be alive and answer late: requests that may not run again wait for that a while.</param>
    /// <param name="unrun">It said it answered all it took: what it still holds crossed its DISCONNECT and goes back to the queue, whatever its kind.</param>
    public void Remove(WorkerPeer peer, string reason, bool died, bool expected = false, bool stalled = false, bool unrun = false)
    {
        // Only this very peer: a stale one's identity may belong to a newer connection by now, which stays.
        if (!_workers.TryGetValue(peer.Identity, out var known) || !ReferenceEquals(known, peer))
        {
            return;
        }

        _workers.Remove(peer.Identity);
        peer.Removed = true;

        // What it was refused, or was about to be sent, never left: back first, whatever its handler's kind.
        _sender.DropPending(peer);
        var requeued = Backlog.RequeueUnsent(peer);
        foreach (var worker in peer.Registrations)
        {
            worker.Service.Workers.Remove(worker);
            if (ReferenceEquals(worker.Service.LastAssigned, worker))
            {
                worker.Service.LastAssigned = null;
            }

            services.WorkerLeft(worker.Service);

            // Newest first, so that AddFirst leaves the oldest at the very front.
            foreach (var request in worker.Outstanding.Values.OrderByDescending(r => r.Token))
            {
                request.Holder = null;
                if (!unrun && !ServiceTable.MayRunAgain(worker, request))
                {
                    // At most once: it may have run. A stalled worker may still answer; otherwise the outcome is unknown.
                    if (stalled)
                    {
                        services.Orphan(request, _clock.GetTimestamp() + _livenessTicks, worker.Peer);
                    }
                    else
                    {
                        services.Fail(request, CourierStatus.OutcomeUnknown, $"its worker went away ({reason}) while holding it, and it is not idempotent: it ran once or not at all", ran: true);
                    }
                }
                else if (died && !request.Cancelled && ++request.Deaths >= options.MaxWorkerDeaths)
                {
                    BrokerLog.Poison(logger, request.Service.Name, request.Deaths);
                    services.Fail(request, CourierStatus.PoisonRequest, $"request abandoned: {request.Deaths} workers died while handling it");
                }
                else
                {
                    // A cancelled one is forgotten here (nobody waits for it: no poison verdict either).
                    if (services.Requeue(request))
                    {
                        requeued++;
                    }
                }
            }

            worker.Outstanding.Clear();
        }

        // Logged once the state is whole again.
        if (_churn.Admit(Departures))
        {
            if (expected)
            {
                BrokerLog.WorkerLeft(logger, peer.Name, peer.ServiceNames, reason, requeued);
            }
            else
            {
                BrokerLog.WorkerGone(logger, peer.Name, peer.ServiceNames, reason, requeued);
            }
        }

        foreach (var worker in peer.Registrations)
        {
            services.Dispatch(worker.Service);
        }
    }

    /// <summary>
    /// The services one worker connection may register (docs/protocol.md §3): a REPLY's token is looked up in each of
    /// its registrations, so their number is what every reply from it costs.
    /// </summary>
    public const int MaxServicesPerWorker = 256;

    private void OnReady(byte[] identity, WorkerPeer? peer, List<byte[]> frames, string? userId)
    {
        var name = frames.Count > 4 ? Mdp.DecodeServiceName(frames[4]) : null;
        if (name is null || name.StartsWith("mmi.", StringComparison.Ordinal))
        {
            Violation(identity, peer, "READY without a valid service name");
            return;
        }

        if (Security is { } security && !security.MayServe(userId, name))
        {
            // Never registered, so it never gets a request; DISCONNECT tells it so, and drops what else it serves here.
            // Rate-limited: a worker that ignores DISCONNECT can send READYs as fast as it likes.
            if (violations.Admit(Courier.Internal.ViolationKind.ServeForbidden))
            {
                security.ServeRefused(userId, name);
            }

            if (peer is not null)
            {
                Remove(peer, $"it may not serve {name}", died: false, expected: false);
            }

            _sender.SendCommand(identity, MdpWorker.DisconnectFrame);
            return;
        }

        var capability = frames.Count > 5 ? CourierWorkerFrame.ParseCapability(frames[5]) : WorkerCapability.None;
        // The connection's own checks first: a READY refused for them must not take a service's place (ForWorker).
        if (peer is not null)
        {
            if (!peer.MultiService || !capability.MultiService)
            {
                // Before courier/4 a connection carries one service: 7/MDP allows one READY.
                Violation(identity, peer, "second READY");
                return;
            }

            if (services.Find(name) is { } known && peer.For(known) is not null)
            {
                Violation(identity, peer, $"second READY for {name}");
                return;
            }

            if (peer.Registrations.Count >= MaxServicesPerWorker)
            {
                Violation(identity, peer, $"READY for more than {MaxServicesPerWorker} services on one connection");
                return;
            }
        }

        if (services.ForWorker(name) is not { } service)
        {
            Violation(identity, peer, $"READY for a new service '{name}' beyond the broker's {options.MaxServices} (MaxServices)");
            return;
        }

        var first = peer is null;
        if (peer is null)
        {
            peer = new WorkerPeer(identity, capability, _clock.GetTimestamp()) { UserId = userId };
            _workers.Add(identity, peer);
        }

        var worker = new BrokerWorker(peer, service, capability.Capacity, capability.Idempotent);
        peer.Registrations.Add(worker);
        services.WorkerJoined(service);
        service.Workers.Add(worker);
        if (_churn.Admit(Registrations))
        {
            BrokerLog.WorkerReady(logger, peer.Name, name, worker.Capacity, capability.Courier ? $"courier/{capability.Version}" : "7/MDP", peer.Id);
        }
        if (first)
        {
            _sender.SendCommand(identity, MdpWorker.HeartbeatFrame);
        }

        services.Dispatch(service);
    }

    /// <summary>
    /// The registrations of <paramref name="peer"/> that answered 429 and hold as many as they may now: each is offered one
    /// more request a tick, as its busy handlers may have finished without a reply the broker could hear (they served a
    /// connection it lost).
    /// </summary>
    private static void FindFull(WorkerPeer peer, ref List<BrokerWorker>? full)
    {
        foreach (var registration in peer.Registrations)
        {
            if (registration.Room < registration.Capacity && registration.Outstanding.Count >= registration.Room)
            {
                (full ??= []).Add(registration);
            }
        }
    }

    /// <summary>The registered worker with routing id <paramref name="identity"/>.</summary>
    public bool TryFind(ReadOnlySpan<byte> identity, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out WorkerPeer? peer)
        => _workers.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(identity, out peer);

    /// <summary>A worker broke the protocol: told DISCONNECT, forgotten, its requests requeued; a warning (rate-limited).</summary>
    public void Violation(byte[] identity, WorkerPeer? peer, string reason)
    {
        if (violations.Admit(Courier.Internal.ViolationKind.ProtocolViolation))
        {
            BrokerLog.Violation(logger, peer?.Name ?? Convert.ToHexString(identity), reason);
        }

        _sender.SendCommand(identity, MdpWorker.DisconnectFrame);
        if (peer is not null)
        {
            Remove(peer, "protocol violation", died: false, expected: true);
        }
    }

    /// <summary>
    /// A worker the broker does not know spoke as if registered: after a broker restart every worker does, and one the
    /// broker expired may. Not a violation: it is told DISCONNECT, so that it registers again.
    /// </summary>
    public void NotRegistered(byte[] identity, string what)
    {
        if (violations.Admit(Courier.Internal.ViolationKind.UnregisteredWorker))
        {
            BrokerLog.NotRegistered(logger, Convert.ToHexString(identity), what);
        }

        _sender.SendCommand(identity, MdpWorker.DisconnectFrame);
    }
}
