using System.Diagnostics;
using System.Text;
using Courier.Diagnostics.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Serving.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// The broker's services: each one's queue of waiting requests and its workers, and the matching of the two
/// (least-loaded dispatch). What the front end accepts comes here; replies leave through the front end. Loop thread only.
/// </summary>
internal sealed class ServiceTable(CourierBrokerOptions options) : IRequestTarget
{
    private readonly RequestPool _pool = new();
    private readonly TimeProvider _clock = options.TimeProvider;
    private readonly ServiceDirectory _services = new(options);
    private readonly List<BrokerRequest> _scratch = [];
    private readonly DeliveryLedger<BrokerRequest> _delivery = new(AtMostOnce.Window, AtMostOnce.Capacity, options.TimeProvider);
    private readonly OrphanedRequests _orphans = new();
    private readonly BrokerTelemetry _telemetry = new();
    private BrokerMmi? _mmi;
    private Action<BrokerRequest>? _endOrphan;
    private long _dispatchSequence;

    /// <summary>What the broker's gauges read off the loop: published on tick while a listener collects them.</summary>
    public BrokerTelemetry Telemetry => _telemetry;

    /// <summary>Where replies leave; set once the socket exists.</summary>
    public ClientFrontEnd FrontEnd { get; set; } = null!;

    /// <summary>Where requests go; set once the socket exists.</summary>
    public WorkerRegistry Workers { get; set; } = null!;

    /// <summary>
    /// A Courier client's request for a service without a worker past the grace period is answered 404 at once (and no
    /// state is made for a name nobody serves); a stock 7/MDP client's waits for a worker, as 7/MDP specifies.
    /// </summary>
    public string? NotServed(InboundRequest request) => IsCourier(request) ? _services.NotServed(request.Service!) : null;

    /// <summary>
    /// Answers 404 to the queued Courier requests of services that have been without a worker past the grace period, and
    /// forgets services that have had no worker and nothing waiting for <see cref="CourierBrokerOptions.IdleServiceTimeout"/>.
    /// </summary>
    public void OnTick()
    {
        _telemetry.OnTick(_services.ByName.Values);
        _mmi?.OnTick();
        var now = _clock.GetTimestamp();
        _delivery.Expire(now);
        ExpireQueued(now);
        _orphans.EndExpired(now, _endOrphan ??= request =>
            Fail(request, CourierStatus.OutcomeUnknown, "its worker stalled while holding it, and it is not idempotent: it ran once or not at all", ran: true));

        if (_services.HasGrace)
        {
            foreach (var service in _services.ByName.Values)
            {
                if (service.Workers.Count == 0 && service.Queue.CourierCount > 0 && _services.PastGrace(service.NoWorkersSince, now))
                {
                    service.Queue.Collect(static r => IsCourier(r.Inbound), _scratch);
                    foreach (var request in _scratch)
                    {
                        service.Queue.Remove(request);
                        Fail(request, CourierStatus.NotFound, _services.NoWorker(service.Name));
                    }

                    _scratch.Clear();
                }
            }
        }

        _services.ForgetIdle(now);
    }

    /// <summary>A service lost a worker: from its last one on, its grace period runs.</summary>
    public void WorkerLeft(BrokerService service) => _services.WorkerLeft(service);

    public bool Keeps(string service) => _services.Find(service) is not null;

    /// <summary>The service named <paramref name="name"/>, or null when none is known by it.</summary>
    public BrokerService? Find(string name) => _services.Find(name);

    /// <summary>A service is about to get a worker: it has one from now on.</summary>
    public void WorkerJoined(BrokerService service) => _services.WorkerJoined(service);

    public string? Refusal => null;

    /// <summary>courier/5 requests the at-most-once ledger holds as in progress (queued, with a worker, or orphaned).</summary>
    public int TrackedInProgress => _delivery.RunningCount;

    /// <summary>The bytes of the replies its at-most-once ledger remembers (bounded by <see cref="AtMostOnce.MaxBytes"/>).</summary>
    public long RememberedBytes => _delivery.RememberedBytes;

    /// <summary>Services known now.</summary>
    public int Count => _services.Count;

    /// <summary>What waits across all services.</summary>
    public QueueLedger Ledger => _services.Ledger;

    /// <summary>8/MMI and Courier's <c>mmi.*</c> services about this broker's services; null for a name that is none of them.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>>? AnswerMmi(string service, ReadOnlySpan<byte> argument)
        => (_mmi ??= new(_services.ByName, _telemetry)).Answer(service, argument);

    public string? TryAccept(InboundRequest request)
    {
        var name = request.Service!;
        if (_services.FindOrAdd(name) is not { } service)
        {
            return $"too many services: the broker keeps {options.MaxServices} (MaxServices) and '{name}' would be one more";
        }

        // The common case: nothing waits and a worker has room, so the request goes straight out and holds no queue.
        if (service.Queue.Count == 0 && LeastLoaded(service, CameInBatch(request)) is { } idle)
        {
            Assign(idle, Hold(request, service));
            return null;
        }

        if (Refuse(request, service) is { } refusal)
        {
            service.Errors++;
            return refusal;
        }

        service.Queue.AddLast(Hold(request, service));
        Dispatch(service);
        return null;
    }

    /// <summary>
    /// The service a worker registers for, made if new. At <see cref="CourierBrokerOptions.MaxServices"/> a worker's
    /// service comes first: a service without a worker gives its place up (one never served first, else the one whose
    /// last worker left the longest ago; found at once, <see cref="ServiceDirectory.LongestWorkerless"/>), its waiting
    /// requests answered 404, so that clients naming services nobody serves (any client may, and a stock 7/MDP client's requests
    /// wait without a deadline) cannot keep workers out. Null only when every service the broker keeps has a worker.
    /// </summary>
    public BrokerService? ForWorker(string name)
    {
        if (_services.FindOrAdd(name) is { } service)
        {
            return service;
        }

        if (_services.LongestWorkerless() is not { } workerless)
        {
            return null;
        }

        while (workerless.Queue.TakeFirst() is { } request)
        {
            Fail(request, CourierStatus.NotFound, $"no worker serves '{workerless.Name}', and its place among the broker's {options.MaxServices} services (MaxServices) went to one a worker registered for");
        }

        _services.Remove(workerless);
        return _services.FindOrAdd(name);
    }

    /// <summary>
    /// A caller gave up (courier/5 CANCEL): a queued request is dropped unanswered; one a worker holds is answered when
    /// the worker answers, and never given to another worker, whatever brings it back (a courier/5 worker is told, and its
    /// handler's token fires; an older one cannot be).
    /// </summary>
    public void Cancel(RequestKey key)
    {
        if (!_delivery.TryGetRunning(key, out var request))
        {
            return;
        }

        if (request.Lane?.Queue is { } queue)
        {
            queue.Remove(request);
            ForgetUnanswered(request);
        }
        else if (request.Holder is { } holder)
        {
            request.Cancelled = true;
            if (holder.Peer.Delivery)
            {
                Workers.SendCancel(holder.Peer, request.Token);
            }
        }
    }

    /// <summary>
    /// A request a stalled worker held, not idempotent: it may not go to another worker. It waits for that worker's late
    /// reply until <paramref name="until"/>, then is answered 520 (outcome unknown). Only that worker's connection
    /// (<paramref name="worker"/>, its routing id) may answer it: tokens count up, and a reply for one from anyone else
    /// would be a forgery.
    /// </summary>
    public void Orphan(BrokerRequest request, long until, WorkerPeer worker) => _orphans.Add(request, until, worker);

    /// <summary>
    /// A late REPLY in 7/MDP form (<c>token, "", body…</c>) from a worker the broker no longer knows: delivered if it
    /// answers an orphan, its body read as the worker that held it wrote it (a Courier worker's starts with a status
    /// frame, a stock worker's does not).
    /// </summary>
    public void LateMdpReply(ulong token, ReadOnlySpan<byte> from, IReadOnlyList<byte[]> body)
    {
        if (_orphans.Find(token) is not { } request)
        {
            return;
        }

        if (request.OrphanOf is { Courier: false })
        {
            LateReply(token, from, CourierStatus.Ok, [.. body.Select(f => (ReadOnlyMemory<byte>)f)], default);
        }
        else if (body.Count > 0)
        {
            LateReply(token, from, StatusFrames.Parse(body[0]), [.. body.Skip(1).Select(f => (ReadOnlyMemory<byte>)f)], default);
        }
    }

    /// <summary>
    /// A reply, from the connection <paramref name="from"/>, for a request its worker no longer holds: delivered if it
    /// answers an orphan of that same connection. True when it did.
    /// </summary>
    public bool LateReply(ulong token, ReadOnlySpan<byte> from, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body, ReadOnlySpan<byte> headers)
    {
        if (_orphans.Claim(token, from) is not { } request)
        {
            return false;
        }

        if (status == CourierStatus.Ok)
        {
            Reply(request, body, headers, remember: true);
        }
        else if (status is CourierStatus.Unavailable or CourierStatus.TooManyRequests)
        {
            // The worker refused it (stopping, or no room): it never ran, and its caller may send it anywhere.
            Fail(request, CourierStatus.Unavailable, ErrorMessage(body), ran: false);
        }
        else
        {
            Fail(request, status is < 100 or > 599 ? CourierStatus.ServerError : status, ErrorMessage(body), ran: true);
        }

        return true;
    }

    /// <summary>What a worker's error reply says: its first frame as text.</summary>
    public static string ErrorMessage(ReadOnlySpan<ReadOnlyMemory<byte>> body)
        => body.Length > 0 ? Encoding.UTF8.GetString(body[0].Span) : "worker reported an error";

    /// <summary>Whether a request its worker lost may run again elsewhere: idempotent, or from a client that cannot be told otherwise.</summary>
    public static bool MayRunAgain(BrokerWorker worker, BrokerRequest request)
        => worker.Idempotent || request.Inbound.Delivery.Idempotent || !IsCourier(request.Inbound);

    /// <summary>Queued requests whose caller's budget ran out are answered 504 (courier/5): nobody waits for them.</summary>
    private void ExpireQueued(long now)
    {
        if (_delivery.RunningCount == 0)
        {
            return; // only courier/5 requests carry budgets, and every one of them is in the ledger
        }

        foreach (var service in _services.ByName.Values)
        {
            service.Queue.Collect(r => r.Deadline <= now, _scratch);
            foreach (var request in _scratch)
            {
                service.Queue.Remove(request);
                Fail(request, CourierStatus.DeadlineExceeded, "the request's deadline passed while it waited for a worker");
            }

            _scratch.Clear();
        }
    }

    /// <summary>
    /// At-most-once: a repeated attempt of a request in progress takes its place as the one to answer (its reply address
    /// is now the newest attempt's); one already answered gets the remembered reply. True when it was either.
    /// </summary>
    public bool JoinedRepeat(InboundRequest request) => _delivery.Join(request, FrontEnd);

    /// <summary>Hands queued requests of <paramref name="service"/> to its least-loaded workers while any has room, one client at a time in turn.</summary>
    public void Dispatch(BrokerService service)
    {
        while (service.Queue.First is not null)
        {
            // Requests that waited go to whichever worker has room first, the least loaded: workers are what is short.
            var worker = LeastLoaded(service, batched: false);
            if (worker is null)
            {
                return;
            }

            Assign(worker, service.Queue.TakeFirst()!);
        }
    }

    /// <summary>A worker's reply: to the client, and the request is done.</summary>
    /// <param name="request">The request answered.</param>
    /// <param name="body">The reply's body.</param>
    /// <param name="headers">The reply's encoded headers.</param>
    /// <param name="remember">Remember the reply for repeated attempts (a request that may not run again).</param>
    public void Reply(BrokerRequest request, ReadOnlySpan<ReadOnlyMemory<byte>> body, ReadOnlySpan<byte> headers = default, bool remember = false)
    {
        if (body.Length > options.Transport.MaxBodyFrames)
        {
            // A worker of another make may send more than a Courier worker would: passed on with the client's envelope it
            // could be past what the client's transport takes, and dropped there, its caller told nothing but a timeout.
            Fail(request, CourierStatus.ServerError, $"the worker's reply has {body.Length} frames, more than the {options.Transport.MaxBodyFrames} a reply may have (TransportOptions.MaxFramesPerMessage less {Transport.TransportOptions.ReservedFrames})", ran: true);
            return;
        }

        request.Service.Served++;
        if (request.Tracked && remember)
        {
            // Copied: the body is a view of the receive buffer.
            var copy = new ReadOnlyMemory<byte>[body.Length];
            for (var i = 0; i < copy.Length; i++)
            {
                copy[i] = body[i].ToArray();
            }

            _delivery.Remember(request.Key, new RememberedReply(CourierStatus.Ok, copy, headers.ToArray()), request.Inbound.UserId);
        }

        try
        {
            FrontEnd.Answer(request.Inbound, CourierStatus.Ok, body, headers);
            BrokerTelemetry.Answered(request, CourierStatus.Ok);
        }
        finally
        {
            // Done even if answering threw (a logger's fault): a repeat must not join a run that will never answer.
            Retire(request);
        }
    }

    /// <summary>An error for the client, and the request is done; <paramref name="ran"/>: a handler may have run it, so a repeat gets this answer too.</summary>
    public void Fail(BrokerRequest request, int status, string message, bool ran = false)
    {
        request.Service.Errors++;
        if (request.Tracked && ran)
        {
            _delivery.Remember(request.Key, new RememberedReply(status, [Encoding.UTF8.GetBytes(message)], []), request.Inbound.UserId);
        }

        try
        {
            FrontEnd.Fail(request.Inbound, status, message, request.Service.Name);
            BrokerTelemetry.Answered(request, status);
        }
        finally
        {
            Retire(request); // as in Reply
        }
    }

    /// <summary>
    /// A request taken back from a worker that died, stopped or had no room: to the front of its queue, unless its
    /// caller cancelled it meanwhile (nobody waits for it: it is forgotten unanswered, as a cancelled queued one is).
    /// </summary>
    /// <returns>Whether it went back (false: retired).</returns>
    public bool Requeue(BrokerRequest request)
    {
        if (request.Cancelled)
        {
            ForgetUnanswered(request);
            return false;
        }

        request.Service.Requeued++;
        BrokerTelemetry.Requeued(request);
        request.Service.Queue.AddFirst(request);
        return true;
    }

    /// <summary>
    /// A client that went away (say, a Lazy Pirate reconnect) can no longer receive replies: its waiting requests would
    /// only make workers do work nobody reads, and its resends would queue twice. Costs what it had queued, found
    /// through its lanes, not a walk of every queue. A courier/5 client's lane is its identity's, not a connection's, and
    /// stays: its resends on another connection join those requests (at-most-once) and take their replies.
    /// </summary>
    public void OnClientGone(ReadOnlySpan<byte> identity)
    {
        if (Ledger.Find(identity) is not { } client)
        {
            return;
        }

        // Removing a lane's last request closes the lane (and the client with its last lane): take them out first.
        foreach (var lane in client.Lanes.ToArray())
        {
            var queue = lane.Queue!;
            for (var left = lane.Count; left > 0; left--)
            {
                var request = lane.First!;
                queue.Remove(request);
                BrokerTelemetry.Abandoned(request);
                ForgetUnanswered(request);
            }
        }
    }

    /// <summary>Why <paramref name="request"/> cannot wait for <paramref name="service"/>, or null: the 503 bounds, broadest first.</summary>
    private string? Refuse(InboundRequest request, BrokerService service)
    {
        if (Ledger.Count >= options.MaxQueued)
        {
            return $"broker full: {Ledger.Count} requests wait in all (MaxQueued)";
        }

        if (Ledger.Bytes + BrokerRequest.SizeOf(request) > options.MaxQueuedBytes)
        {
            return $"broker full: {Ledger.Bytes} bytes of requests wait in all (MaxQueuedBytes {options.MaxQueuedBytes})";
        }

        if (service.Queue.Count >= options.MaxQueuedPerService)
        {
            // Full: a client below its share takes the newest place of the client with the most waiting.
            if (service.Queue.Surplus(BrokerRequest.LaneKey(request)) is not { } surplus)
            {
                return $"queue full: {service.Queue.Count} requests wait for '{service.Name}'";
            }
            service.Queue.Remove(surplus);
            Fail(surplus, CourierStatus.Unavailable, $"queue full: {service.Queue.Count + 1} requests wait for '{service.Name}', and this client has more of them than its share");
        }

        return null;
    }

    private BrokerRequest Hold(InboundRequest request, BrokerService service)
    {
        var held = _pool.Rent(request, service);
        var delivery = request.Delivery;
        if (!delivery.Client.IsNone)
        {
            // courier/5: remembered for at-most-once, and its caller's budget becomes a deadline here.
            held.Track(request.Key);
            _delivery.Start(held.Key, held);
            held.Deadline = Delivery.DeadlineOf(delivery.BudgetMs, _clock); // long.MaxValue, as set, when it has no budget
        }

        _telemetry.Arrived(held);
        if (CourierTracing.Source.HasListeners())
        {
            // Its stay here, child of the client's span; the worker's span becomes the child of this one.
            var headers = delivery.Headers.Span;
            if (CourierTracing.StartHandling(service.Name, TelemetryRole.Broker, TraceHeaders.Parent(headers)) is { } activity)
            {
                held.Activity = activity;
                held.ForwardHeaders = TraceHeaders.Forward(headers, activity);
            }
        }

        return held;
    }

    private void Assign(BrokerWorker worker, BrokerRequest request)
    {
        if (request.QueuedAt != 0)
        {
            BrokerTelemetry.Dispatched(request);
        }

        if (request.Deadline != long.MaxValue)
        {
            var now = _clock.GetTimestamp();
            if (now >= request.Deadline)
            {
                // Its caller no longer waits: it is answered 504 instead of being run.
                Fail(request, CourierStatus.DeadlineExceeded, "the request's deadline passed before a worker took it");
                return;
            }

            request.BudgetMs = (uint)Math.Max(1, (request.Deadline - now) * 1000 / _clock.TimestampFrequency);
        }

        if (request.Activity is { IsAllDataRequested: true } activity)
        {
            // Only a recorded span: Activity keeps events (a clock read and a list node) whether or not it is recorded.
            activity.AddEvent(new ActivityEvent("dispatched"));
        }
        request.Holder = worker;
        request.Service.LastAssigned = worker;
        request.Service.LastAssignedTurn = _turn;
        worker.Outstanding.Add(request.Token, request);
        worker.LastDispatch = ++_dispatchSequence;
        if (!Workers.Send(worker, request))
        {
            // The refused request never left: back to the front; the worker is tried again later.
            Workers.Refused(worker.Peer);
        }
    }

    /// <summary>Whether it came in a client's batch: only such requests are packed for a worker (<see cref="WorkerSender"/>).</summary>
    private static bool CameInBatch(InboundRequest request) => request.Route.Framing == ClientFraming.CourierBatch;

    private static bool IsCourier(InboundRequest request)
        => request.Route.Framing is ClientFraming.Courier or ClientFraming.CourierBatch;

    // The broker loop's turns, counted so that dispatch can tell a request handled in the same turn as the one before it.
    private long _turn;

    /// <summary>The loop's turn ends: what is dispatched next starts a fresh choice of worker.</summary>
    public void EndTurn() => _turn++;

    /// <summary>
    /// The least-loaded worker of <paramref name="service"/> with room (least recently given a request among equals); for
    /// a request that <paramref name="batched"/> (came in a client's batch, so packed for its worker with the others of
    /// the turn) and waits for none, the worker given the service's last request in this turn while that one has room and
    /// holds fewer than <see cref="CourierBrokerOptions.DispatchAffinity"/> more than the least loaded. Null when none
    /// has room. Requests that travel alone gain nothing from going together, and go to the least loaded.
    /// </summary>
    private BrokerWorker? LeastLoaded(BrokerService service, bool batched)
    {
        BrokerWorker? best = null;
        foreach (var worker in service.Workers)
        {
            if (worker.HasRoom && (best is null
                || worker.Outstanding.Count < best.Outstanding.Count
                || (worker.Outstanding.Count == best.Outstanding.Count && worker.LastDispatch < best.LastDispatch)))
            {
                best = worker;
            }
        }

        if (batched && best is not null && service.LastAssignedTurn == _turn && service.LastAssigned is { HasRoom: true, Peer.Removed: false } last
            && last.Outstanding.Count - best.Outstanding.Count < options.DispatchAffinity)
        {
            return last;
        }

        return best;
    }

    /// <summary>Nobody waits for it (its caller cancelled, or went away): it ends unanswered.</summary>
    private void ForgetUnanswered(BrokerRequest request)
    {
        FrontEnd.Release(request.Inbound);
        Retire(request);
    }

    /// <summary>A request answered, failed or dropped: nothing refers to it any more.</summary>
    private void Retire(BrokerRequest request)
    {
        if (request.Tracked)
        {
            _delivery.Forget(request.Key, request);
        }

        _pool.Return(request);
    }
}
