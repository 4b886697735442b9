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
    // Finished requests are kept for reuse, up to a bound: under load every request would otherwise be garbage.
    private const int SpareRequests = 4096;
    private readonly Dictionary<string, BrokerService> _services = new(StringComparer.Ordinal);
    private readonly Stack<BrokerRequest> _spare = new();
    private readonly TimeProvider _clock = options.TimeProvider;
    private readonly long _started = options.TimeProvider.GetTimestamp();
    private readonly BrokerTelemetry _telemetry = new();
    private ulong _nextToken;
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
        _telemetry.OnTick(_services.Values);
        if (options.ServiceGracePeriod == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        var now = _clock.GetTimestamp();
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
            "mmi.stats" => [Stats(name)],
            _ => null,
        };
    }

    private byte[] Stats(string name)
    {
        _telemetry.Watch(); // from now on latencies are recorded: the next answer has percentiles
        return BrokerStats.StatsJson(_services.Values, name);
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

        var held = _spare.TryPop(out var spare) ? spare : new BrokerRequest();
        service.Queue.AddLast(held.Set(++_nextToken, request, service));
        _telemetry.Arrived(held);
        Dispatch(service);
        return null;
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
            if (request.QueuedAt != 0)
            {
                BrokerTelemetry.Dispatched(request);
            }

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
    public void Reply(BrokerRequest request, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        request.Service.Served++;
        FrontEnd.Answer(request.Inbound, CourierStatus.Ok, body);
        BrokerTelemetry.Answered(request, CourierStatus.Ok);
        Retire(request);
    }

    /// <summary>An error for the client, and the request is done.</summary>
    public void Fail(BrokerRequest request, int status, string message)
    {
        request.Service.Errors++;
        FrontEnd.Fail(request.Inbound, status, message, request.Service.Name);
        BrokerTelemetry.Answered(request, status);
        Retire(request);
    }

    /// <summary>A request taken back from a worker that died or stopped: to the front of its queue.</summary>
    public static void Requeue(BrokerRequest request)
    {
        request.Service.Requeued++;
        BrokerTelemetry.Requeued(request);
        request.Service.Queue.AddFirst(request);
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
                    BrokerTelemetry.Abandoned(request);
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
        request.Clear();
        if (_spare.Count < SpareRequests)
        {
            _spare.Push(request);
        }
    }
}
