namespace Courier.Broker.Internal;

/// <summary>
/// The broker's services by name: made when first asked for (up to <see cref="CourierBrokerOptions.MaxServices"/>),
/// judged past their grace period when workerless, and forgotten when idle. Loop thread only.
/// </summary>
internal sealed class ServiceDirectory(CourierBrokerOptions options)
{
    private readonly Dictionary<string, BrokerService> _byName = new(StringComparer.Ordinal);

    // The services without a worker, in the order their places are given up to services workers register for: those
    // never served at the front, then by when their last worker left. A READY at MaxServices so finds one at once.
    private readonly LinkedList<BrokerService> _workerless = new();
    private readonly TimeProvider _clock = options.TimeProvider;
    private readonly long _started = options.TimeProvider.GetTimestamp();

    // A service is forgotten only once a client asking for it would be answered 404 anyway.
    private readonly TimeSpan _forgetAfter = options.ServiceGracePeriod == Timeout.InfiniteTimeSpan || options.ServiceGracePeriod < options.IdleServiceTimeout
        ? options.IdleServiceTimeout
        : options.ServiceGracePeriod;

    /// <summary>What waits across all services.</summary>
    public QueueLedger Ledger { get; } = new();

    /// <summary>Services known now, by name (read by 8/MMI).</summary>
    public Dictionary<string, BrokerService> ByName => _byName;

    /// <summary>Services known now.</summary>
    public int Count => _byName.Count;

    /// <summary>Whether a workerless service's grace period is on: without it, requests wait for a worker however long.</summary>
    public bool HasGrace => options.ServiceGracePeriod != Timeout.InfiniteTimeSpan;

    /// <summary>The service named <paramref name="name"/>, or null when none is known by it.</summary>
    public BrokerService? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The service named <paramref name="name"/>, made if new; null when the broker already keeps <see cref="CourierBrokerOptions.MaxServices"/>.</summary>
    public BrokerService? FindOrAdd(string name)
    {
        if (_byName.TryGetValue(name, out var service))
        {
            return service;
        }

        if (_byName.Count >= options.MaxServices)
        {
            return null;
        }

        // A service counts as workerless since the broker started: its grace period may be long over.
        service = new BrokerService(name, _started, Ledger);
        _byName.Add(name, service);
        service.Workerless = _workerless.AddFirst(service);
        return service;
    }

    /// <summary>
    /// The service whose place a service a worker registers for may take, or null when every service has a worker: one
    /// never served first (the most recently named of those), else the one whose last worker left the longest ago.
    /// </summary>
    public BrokerService? LongestWorkerless() => _workerless.First?.Value;

    /// <summary>Forgets <paramref name="service"/>, which has no worker and nothing waiting any more.</summary>
    public void Remove(BrokerService service)
    {
        _byName.Remove(service.Name);
        Unlist(service);
    }

    /// <summary>A service is about to get a worker: it leaves the list of those without one.</summary>
    public void WorkerJoined(BrokerService service) => Unlist(service);

    private void Unlist(BrokerService service)
    {
        if (service.Workerless is { } node)
        {
            _workerless.Remove(node);
            service.Workerless = null;
        }
    }

    /// <summary>Why a Courier client's request for <paramref name="name"/> is answered 404 at once (no worker past the grace period), or null.</summary>
    public string? NotServed(string name)
    {
        if (!HasGrace)
        {
            return null;
        }

        var service = Find(name);
        if (service is { Workers.Count: > 0 })
        {
            return null; // the common case: no clock read
        }

        return PastGrace(service?.NoWorkersSince ?? _started, _clock.GetTimestamp()) ? NoWorker(name) : null;
    }

    /// <summary>Whether a service workerless since <paramref name="since"/> is past its grace period at <paramref name="now"/>.</summary>
    public bool PastGrace(long since, long now)
        => since != long.MaxValue && _clock.GetElapsedTime(since, now) >= options.ServiceGracePeriod;

    /// <summary>The 404's message for <paramref name="service"/>.</summary>
    public string NoWorker(string service) => $"no worker serves '{service}' (none for {options.ServiceGracePeriod.TotalSeconds:0.###} s)";

    /// <summary>A service lost a worker: from its last one on, its grace period runs.</summary>
    public void WorkerLeft(BrokerService service)
    {
        if (service.Workers.Count == 0)
        {
            service.NoWorkersSince = _clock.GetTimestamp();
            Unlist(service);
            service.Workerless = _workerless.AddLast(service);
        }
    }

    /// <summary>Forgets services that have had no worker and nothing waiting for <see cref="CourierBrokerOptions.IdleServiceTimeout"/>.</summary>
    public void ForgetIdle(long now)
    {
        List<BrokerService>? idle = null;
        foreach (var service in _byName.Values)
        {
            if (service.IsIdle && _clock.GetElapsedTime(service.NoWorkersSince, now) >= _forgetAfter)
            {
                (idle ??= []).Add(service);
            }
        }

        foreach (var service in idle ?? [])
        {
            Remove(service);
        }
    }
}
