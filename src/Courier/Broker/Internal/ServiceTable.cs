using System.Text;
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
    // Finished requests are kept for reuse, up to a bound: under load every request would otherwise be garbage.
    private const int SpareRequests = 4096;
    private readonly Dictionary<string, BrokerService> _services = new(StringComparer.Ordinal);
    private readonly Stack<BrokerRequest> _spare = new();
    private readonly TimeProvider _clock = options.TimeProvider;
    private readonly long _started = options.TimeProvider.GetTimestamp();
    private readonly DeliveryLedger<BrokerRequest> _ledger = new(AtMostOnce.Window, AtMostOnce.Capacity, options.TimeProvider);
    private readonly Dictionary<ulong, BrokerRequest> _orphans = [];
    private ulong _nextToken;
    private long _dispatchSequence;

    /// <summary>Where replies leave; set once the socket exists.</summary>
    public ClientFrontEnd FrontEnd { get; set; } = null!;

    /// <summary>Where requests go; set once the socket exists.</summary>
    public WorkerRegistry Workers { get; set; } = null!;

    /// <summary>
    /// A Courier client's request for a service without a worker past the grace period is answered 404 at once (and no
    /// state is made for a name nobody serves); a stock 7/MDP client's waits for a worker, as 7/MDP specifies.
    /// </summary>
    public string? NotServed(InboundRequest request)
    {
        if (!IsCourier(request) || options.ServiceGracePeriod == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        var name = request.Service!;
        var known = _services.TryGetValue(name, out var service);
        if (known && service!.Workers.Count > 0)
        {
            return null; // the common case: no clock read
        }

        return PastGrace(known ? service!.NoWorkersSince : _started, _clock.GetTimestamp()) ? NoWorker(name) : null;
    }

    /// <summary>Answers 404 to the queued Courier requests of services that have been without a worker past the grace period.</summary>
    public void OnTick()
    {
        var now = _clock.GetTimestamp();
        _ledger.Expire(now);
        ExpireQueued(now);
        EndOrphans(now);
        if (options.ServiceGracePeriod == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        foreach (var service in _services.Values)
        {
            if (service.Workers.Count > 0 || service.Queue.CourierCount == 0 || !PastGrace(service.NoWorkersSince, now))
            {
                continue;
            }

            for (var request = service.Queue.First; request is not null;)
            {
                var next = request.QueueNext;
                if (IsCourier(request.Inbound))
                {
                    service.Queue.Remove(request);
                    Fail(request, CourierStatus.NotFound, NoWorker(service.Name));
                }

                request = next;
            }
        }
    }

    /// <summary>A service lost a worker: from its last one on, its grace period runs.</summary>
    public void WorkerLeft(BrokerService service)
    {
        if (service.Workers.Count == 0)
        {
            service.NoWorkersSince = _clock.GetTimestamp();
        }
    }

    public string? Refusal => null;

    public IReadOnlyList<ReadOnlyMemory<byte>>? AnswerMmi(string service, ReadOnlySpan<byte> argument)
    {
        var name = Encoding.UTF8.GetString(argument);
        return service switch
        {
            "mmi.service" => [_services.TryGetValue(name, out var s) && s.Workers.Count > 0 ? Mmi.Found : Mmi.NotFound],
            "mmi.workers" => [BrokerStats.WorkersJson(_services.Values, name)],
            "mmi.stats" => [BrokerStats.StatsJson(_services.Values, name)],
            _ => null,
        };
    }

    public string? TryAccept(InboundRequest request)
    {
        var name = request.Service!;
        var service = Service(name);
        if (service.Queue.Count >= options.MaxQueuedPerService)
        {
            service.Errors++;
            return $"queue full: {service.Queue.Count} requests wait for '{name}'";
        }

        var delivery = request.Delivery;
        if (!delivery.Client.IsNone && Repeated(request))
        {
            return null;
        }

        var held = _spare.TryPop(out var spare) ? spare : new BrokerRequest();
        held.Set(++_nextToken, request, service);
        if (!delivery.Client.IsNone)
        {
            held.Tracked = true;
            _ledger.Start(request.Key, held);
            if (delivery.BudgetMs > 0)
            {
                held.Deadline = _clock.GetTimestamp() + (long)(delivery.BudgetMs * (double)_clock.TimestampFrequency / 1000);
            }
        }

        service.Queue.AddLast(held);
        Dispatch(service);
        return null;
    }

    /// <summary>
    /// A caller gave up (courier/5 CANCEL): a queued request is dropped unanswered; one a courier/5 worker holds is
    /// cancelled there (its handler's token fires) and answered when the worker answers.
    /// </summary>
    public void Cancel(RequestKey key)
    {
        if (!_ledger.TryGetRunning(key, out var request))
        {
            return;
        }

        if (request.Queue is { } queue)
        {
            queue.Remove(request);
            FrontEnd.Release(request.Inbound);
            Retire(request);
        }
        else if (request.Holder is { Peer.Delivery: true } holder)
        {
            Workers.SendCancel(holder.Peer, request.Token);
        }
    }

    /// <summary>
    /// A request a stalled worker held, not idempotent: it may not go to another worker. It waits for that worker's late
    /// reply until <paramref name="until"/>, then is answered 520 (outcome unknown).
    /// </summary>
    public void Orphan(BrokerRequest request, long until)
    {
        request.Holder = null;
        request.OrphanedUntil = until;
        _orphans[request.Token] = request;
    }

    /// <summary>A reply from a worker the broker no longer knows: delivered if it answers an orphan. True when it did.</summary>
    public bool LateReply(ulong token, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body, ReadOnlySpan<byte> headers)
    {
        if (!_orphans.Remove(token, out var request))
        {
            return false;
        }

        if (status == CourierStatus.Ok)
        {
            Reply(request, body, headers, remember: true);
        }
        else
        {
            var message = body.Length > 0 ? Encoding.UTF8.GetString(body[0].Span) : "worker reported an error";
            Fail(request, status is < 100 or > 599 ? CourierStatus.ServerError : status, message, ran: true);
        }

        return true;
    }

    /// <summary>Whether a request its worker lost may run again elsewhere: idempotent, or from a client that cannot be told otherwise.</summary>
    public static bool MayRunAgain(BrokerWorker worker, BrokerRequest request)
        => worker.Idempotent || request.Inbound.Delivery.Idempotent || !IsCourier(request.Inbound);

    private void EndOrphans(long now)
    {
        if (_orphans.Count == 0)
        {
            return;
        }

        foreach (var request in _orphans.Values.Where(r => r.OrphanedUntil <= now).ToArray())
        {
            _orphans.Remove(request.Token);
            Fail(request, CourierStatus.OutcomeUnknown, $"its worker stalled while holding it, and it is not idempotent: it ran once or not at all", ran: true);
        }
    }

    /// <summary>Queued requests whose caller's budget ran out are answered 504 (courier/5): nobody waits for them.</summary>
    private void ExpireQueued(long now)
    {
        if (_ledger.RunningCount == 0)
        {
            return; // only courier/5 requests carry budgets, and every one of them is in the ledger
        }

        foreach (var service in _services.Values)
        {
            for (var request = service.Queue.First; request is not null;)
            {
                var next = request.QueueNext;
                if (request.Deadline <= now)
                {
                    service.Queue.Remove(request);
                    Fail(request, CourierStatus.DeadlineExceeded, "the request's deadline passed while it waited for a worker");
                }

                request = next;
            }
        }
    }

    /// <summary>
    /// At-most-once: a repeated attempt of a request in progress takes its place as the one to answer (its reply address
    /// is now the newest attempt's); one already answered gets the remembered reply. True when it was either.
    /// </summary>
    private bool Repeated(InboundRequest request)
    {
        var key = request.Key;
        if (_ledger.TryGetRunning(key, out var running))
        {
            running.Inbound.TakeRouteOf(request);
            FrontEnd.Release(request);
            return true;
        }

        if (_ledger.TryGetAnswer(key, out var answer))
        {
            FrontEnd.Answer(request, answer.Status, answer.Body, answer.Headers);
            return true;
        }

        return false;
    }

    public BrokerService Service(string name)
    {
        if (!_services.TryGetValue(name, out var service))
        {
            service = new BrokerService(name, _started);
            _services.Add(name, service);
        }

        return service;
    }

    /// <summary>Hands queued requests of <paramref name="service"/> to its least-loaded workers while any has room.</summary>
    public void Dispatch(BrokerService service)
    {
        while (service.Queue.First is { } request)
        {
            var worker = LeastLoaded(service);
            if (worker is null)
            {
                return;
            }

            service.Queue.Remove(request);
            if (request.Deadline != long.MaxValue)
            {
                var now = _clock.GetTimestamp();
                if (now >= request.Deadline)
                {
                    // Its caller no longer waits: it is answered 504 instead of being run.
                    Fail(request, CourierStatus.DeadlineExceeded, "the request's deadline passed before a worker took it");
                    continue;
                }

                request.BudgetMs = (uint)Math.Max(1, (request.Deadline - now) * 1000 / _clock.TimestampFrequency);
            }

            request.Holder = worker;
            worker.Outstanding.Add(request.Token, request);
            worker.LastDispatch = ++_dispatchSequence;
            if (!Workers.Send(worker, request))
            {
                // Its queue is full or its connection gone: treat it as dead (with every service on that connection);
                // the request goes back to the front.
                Workers.Remove(worker.Peer, "send refused", died: false);
            }
        }
    }

    /// <summary>A worker's reply: to the client, and the request is done.</summary>
    /// <param name="request">The request answered.</param>
    /// <param name="body">The reply's body.</param>
    /// <param name="headers">The reply's encoded headers.</param>
    /// <param name="remember">Remember the reply for repeated attempts (a request that may not run again).</param>
    public void Reply(BrokerRequest request, ReadOnlySpan<ReadOnlyMemory<byte>> body, ReadOnlySpan<byte> headers = default, bool remember = false)
    {
        request.Service.Served++;
        if (request.Tracked && remember)
        {
            // Copied: the body is a view of the receive buffer.
            var copy = new ReadOnlyMemory<byte>[body.Length];
            for (var i = 0; i < copy.Length; i++)
            {
                copy[i] = body[i].ToArray();
            }

            _ledger.Remember(request.Inbound.Key, request, new RememberedReply(CourierStatus.Ok, copy, headers.ToArray()));
        }

        FrontEnd.Answer(request.Inbound, CourierStatus.Ok, body, headers);
        Retire(request);
    }

    /// <summary>An error for the client, and the request is done; <paramref name="ran"/>: a handler may have run it, so a repeat gets this answer too.</summary>
    public void Fail(BrokerRequest request, int status, string message, bool ran = false)
    {
        request.Service.Errors++;
        if (request.Tracked && ran)
        {
            _ledger.Remember(request.Inbound.Key, request, new RememberedReply(status, [Encoding.UTF8.GetBytes(message)], []));
        }

        FrontEnd.Fail(request.Inbound, status, message, request.Service.Name);
        Retire(request);
    }

    /// <summary>
    /// A client that went away (say, a Lazy Pirate reconnect) can no longer receive replies: its waiting requests would
    /// only make workers do work nobody reads, and its resends would queue twice.
    /// </summary>
    public void OnClientGone(ReadOnlySpan<byte> identity)
    {
        foreach (var service in _services.Values)
        {
            for (var request = service.Queue.First; request is not null;)
            {
                var next = request.QueueNext;
                if (request.ClientId.AsSpan().SequenceEqual(identity))
                {
                    service.Queue.Remove(request);
                    FrontEnd.Release(request.Inbound);
                    Retire(request);
                }

                request = next;
            }
        }
    }

    private static bool IsCourier(InboundRequest request)
        => request.Route.Framing is ClientFraming.Courier or ClientFraming.CourierBatch;

    private bool PastGrace(long since, long now)
        => since != long.MaxValue && _clock.GetElapsedTime(since, now) >= options.ServiceGracePeriod;

    private string NoWorker(string service) => $"no worker serves '{service}' (none for {options.ServiceGracePeriod.TotalSeconds:0.###} s)";

    private static BrokerWorker? LeastLoaded(BrokerService service)
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

        return best;
    }

    /// <summary>A request answered, failed or dropped: nothing refers to it any more.</summary>
    private void Retire(BrokerRequest request)
    {
        if (request.Tracked)
        {
            _ledger.Forget(request.Inbound.Key, request);
        }

        request.Clear();
        if (_spare.Count < SpareRequests)
        {
            _spare.Push(request);
        }
    }
}
