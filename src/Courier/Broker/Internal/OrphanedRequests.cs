namespace Courier.Broker.Internal;

/// <summary>
/// Requests whose stalled worker was given up while they were not idempotent: none may go to another worker, so each
/// waits for its own worker's late reply until a deadline, then is answered 520 (outcome unknown). Loop thread only.
/// </summary>
internal sealed class OrphanedRequests
{
    private readonly Dictionary<ulong, BrokerRequest> _byToken = [];

    /// <summary>Orphans waiting now.</summary>
    public int Count => _byToken.Count;

    /// <summary>Makes <paramref name="request"/> an orphan of <paramref name="worker"/>'s connection until <paramref name="until"/>.</summary>
    public void Add(BrokerRequest request, long until, WorkerPeer worker)
    {
        request.Holder = null;
        request.OrphanedUntil = until;
        request.OrphanOf = worker;
        _byToken[request.Token] = request;
    }

    /// <summary>The orphan <paramref name="token"/> names, or null; it stays an orphan.</summary>
    public BrokerRequest? Find(ulong token) => _byToken.GetValueOrDefault(token);

    /// <summary>
    /// The orphan <paramref name="token"/> names, taken out, if the connection <paramref name="from"/> (a routing id)
    /// is the one that held it; otherwise null and nothing changes. Tokens count up: a reply for an orphan from any
    /// other connection would be a forgery.
    /// </summary>
    public BrokerRequest? Claim(ulong token, ReadOnlySpan<byte> from)
    {
        if (!_byToken.TryGetValue(token, out var request) || request.OrphanOf is not { } worker || !from.SequenceEqual(worker.Identity))
        {
            return null;
        }

        _byToken.Remove(token);
        return request;
    }

    /// <summary>
    /// The orphans whose wait ended by <paramref name="now"/>, each taken out just before <paramref name="end"/> answers
    /// it: should one answer throw, the others are still orphans, answered at a later tick.
    /// </summary>
    public void EndExpired(long now, Action<BrokerRequest> end)
    {
        if (_byToken.Count == 0)
        {
            return;
        }

        foreach (var request in _byToken.Values.Where(r => r.OrphanedUntil <= now).ToArray())
        {
            _byToken.Remove(request.Token);
            end(request);
        }
    }
}
