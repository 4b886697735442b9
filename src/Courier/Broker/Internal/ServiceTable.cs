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
    private readonly QueueLedger _ledger = new();
    private readonly Dictionary<string, byte[]> _mmiCache = new(StringComparer.Ordinal);
    private readonly List<BrokerRequest> _scratch = [];

    // A service is forgotten only once a client asking for it would be answered 404 anyway.
    private readonly TimeSpan _forgetAfter = options.ServiceGracePeriod == Timeout.InfiniteTimeSpan || options.ServiceGracePeriod < options.IdleServiceTimeout
        ? options.IdleServiceTimeout
        : options.ServiceGracePeriod;
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

    /// <summary>
    /// Answers 404 to the queued Courier requests of services that have been without a worker past the grace period, and
    /// forgets services that have had no worker and nothing waiting for <see cref="CourierBrokerOptions.IdleServiceTimeout"/>.
    /// </summary>
    public void OnTick()
    {
        _mmiCache.Clear(); // 8/MMI answers about every service are built at most once per tick
        var now = _clock.GetTimestamp();
        var grace = options.ServiceGracePeriod != Timeout.InfiniteTimeSpan;
        List<BrokerService>? idle = null;
        foreach (var service in _services.Values)
        {
            if (service.Workers.Count > 0)
            {
                continue;
            }

            if (grace && service.Queue.CourierCount > 0 && PastGrace(service.NoWorkersSince, now))
            {
                var failing = _scratch;
                service.Queue.Collect(static r => IsCourier(r.Inbound), failing);
                foreach (var request in failing)
                {
                    service.Queue.Remove(request);
                    Fail(request, CourierStatus.NotFound, NoWorker(service.Name));
                }

                failing.Clear();
            }

            if (service.IsIdle && _clock.GetElapsedTime(service.NoWorkersSince, now) >= _forgetAfter)
            {
                (idle ??= []).Add(service);
            }
        }

        foreach (var service in idle ?? [])
        {
            _services.Remove(service.Name);
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

    /// <summary>Services known now.</summary>
    public int Count => _services.Count;

    /// <summary>What waits across all services.</summary>
    public QueueLedger Ledger => _ledger;

    public IReadOnlyList<ReadOnlyMemory<byte>>? AnswerMmi(string service, ReadOnlySpan<byte> argument)
    {
        var name = Encoding.UTF8.GetString(argument);
        if (service == "mmi.service")
        {
            return [_services.TryGetValue(name, out var s) && s.Workers.Count > 0 ? Mmi.Found : Mmi.NotFound];
        }

        if (service is not ("mmi.workers" or "mmi.stats"))
        {
            return null;
        }

        var workers = service == "mmi.workers";
        if (name.Length > 0)
        {
            // One service: a lookup, whatever the number of services.
            BrokerService[] one = _services.TryGetValue(name, out var found) ? [found] : [];
            return [workers ? BrokerStats.WorkersJson(one, one.Length) : BrokerStats.StatsJson(one, one.Length)];
        }

        // Every service: built at most once per tick however often it is asked for, and bounded in size.
        if (!_mmiCache.TryGetValue(service, out var answer))
        {
            var sorted = _services.Values.ToArray();
            Array.Sort(sorted, static (x, y) => string.CompareOrdinal(x.Name, y.Name));
            answer = workers ? BrokerStats.WorkersJson(sorted, sorted.Length) : BrokerStats.StatsJson(sorted, sorted.Length);
            _mmiCache[service] = answer;
        }

        return [answer];
    }

    public string? TryAccept(InboundRequest request)
    {
        var name = request.Service!;
        if (!_services.TryGetValue(name, out var service))
        {
            if (_services.Count >= options.MaxServices)
            {
                return $"too many services: the broker keeps {options.MaxServices} (MaxServices) and '{name}' would be one more";
            }

            service = Add(name);
        }

        // The common case: nothing waits and a worker has room, so the request goes straight out and holds no queue.
        if (service.Queue.Count == 0 && LeastLoaded(service) is { } idle)
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

    /// <summary>The service a worker registers for, made if new; null when the broker already keeps <see cref="CourierBrokerOptions.MaxServices"/>.</summary>
    public BrokerService? ForWorker(string name)
        => _services.TryGetValue(name, out var service) ? service : _services.Count < options.MaxServices ? Add(name) : null;

    public void Cancel(RequestKey key)
    {
    }

    /// <summary>Hands queued requests of <paramref name="service"/> to its least-loaded workers while any has room, one client at a time in turn.</summary>
    public void Dispatch(BrokerService service)
    {
        while (service.Queue.First is not null)
        {
            var worker = LeastLoaded(service);
            if (worker is null)
            {
                return;
            }

            Assign(worker, service.Queue.TakeFirst()!);
        }
    }

    /// <summary>A worker's reply: to the client, and the request is done.</summary>
    public void Reply(BrokerRequest request, ReadOnlySpan<ReadOnlyMemory<byte>> body, ReadOnlySpan<byte> headers = default)
    {
        request.Service.Served++;
        FrontEnd.Answer(request.Inbound, CourierStatus.Ok, body, headers);
        Retire(request);
    }

    /// <summary>An error for the client, and the request is done.</summary>
    public void Fail(BrokerRequest request, int status, string message)
    {
        request.Service.Errors++;
        FrontEnd.Fail(request.Inbound, status, message, request.Service.Name);
        Retire(request);
    }

    /// <summary>
    /// A client that went away (say, a Lazy Pirate reconnect) can no longer receive replies: its waiting requests would
    /// only make workers do work nobody reads, and its resends would queue twice. Costs what it had queued, found
    /// through its lanes, not a walk of every queue.
    /// </summary>
    public void OnClientGone(ReadOnlySpan<byte> identity)
    {
        if (_ledger.Find(identity) is not { } client)
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
                FrontEnd.Release(request.Inbound);
                Retire(request);
            }
        }
    }

    /// <summary>Why <paramref name="request"/> cannot wait for <paramref name="service"/>, or null: the 503 bounds, broadest first.</summary>
    private string? Refuse(InboundRequest request, BrokerService service)
    {
        if (_ledger.Count >= options.MaxQueued)
        {
            return $"broker full: {_ledger.Count} requests wait in all (MaxQueued)";
        }

        if (_ledger.Bytes + BrokerRequest.SizeOf(request) > options.MaxQueuedBytes)
        {
            return $"broker full: {_ledger.Bytes} bytes of requests wait in all (MaxQueuedBytes {options.MaxQueuedBytes})";
        }

        if (service.Queue.Count >= options.MaxQueuedPerService)
        {
            // Full: a client below its share takes the newest place of the client with the most waiting.
            if (service.Queue.Surplus(request.Route.ClientId) is not { } surplus)
            {
                return $"queue full: {service.Queue.Count} requests wait for '{service.Name}'";
            }

            service.Queue.Remove(surplus);
            Fail(surplus, CourierStatus.Unavailable, $"queue full: {service.Queue.Count + 1} requests wait for '{service.Name}', and this client has more of them than its share");
        }

        return null;
    }

    private BrokerService Add(string name)
    {
        // A service counts as workerless since the broker started: its grace period may be long over.
        var service = new BrokerService(name, _started, _ledger);
        _services.Add(name, service);
        return service;
    }

    private BrokerRequest Hold(InboundRequest request, BrokerService service)
        => (_spare.TryPop(out var spare) ? spare : new BrokerRequest()).Set(++_nextToken, request, service);

    private void Assign(BrokerWorker worker, BrokerRequest request)
    {
        worker.Outstanding.Add(request.Token, request);
        worker.LastDispatch = ++_dispatchSequence;
        if (!Workers.Send(worker, request))
        {
            // Its queue is full or its connection gone: treat it as dead (with every service on that connection);
            // the request goes back to the front.
            Workers.Remove(worker.Peer, "send refused", died: false);
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
        request.Clear();
        if (_spare.Count < SpareRequests)
        {
            _spare.Push(request);
        }
    }
}
