using Courier.Protocol.Internal;

namespace Courier.Serving.Internal;

/// <summary>A reply remembered for a repeated attempt: status, body, encoded headers.</summary>
internal sealed record RememberedReply(int Status, ReadOnlyMemory<byte>[] Body, byte[] Headers);

/// <summary>
/// At-most-once (courier/5, docs/protocol.md §8), for a server or a broker: the requests in progress by
/// (client identity, request id), so that a repeated attempt joins the one running instead of running again, and the
/// replies of those recently answered, so that it gets the remembered reply. Answered entries are bounded by count
/// (<c>capacity</c>) and age (<c>window</c>), oldest out first; entries in progress are bounded by what the owner
/// admits (queues, concurrency). Loop thread only.
/// </summary>
/// <typeparam name="TRunning">What the owner holds for a request in progress.</typeparam>
internal sealed class DeliveryLedger<TRunning>(TimeSpan window, int capacity, TimeProvider clock)
    where TRunning : class
{
    private readonly Dictionary<RequestKey, TRunning> _running = [];
    private readonly Dictionary<RequestKey, RememberedReply> _answered = [];
    private readonly Queue<(RequestKey Key, long At)> _order = new();
    private readonly long _windowTicks = (long)(window.TotalSeconds * clock.TimestampFrequency);

    public int RunningCount => _running.Count;

    public int AnsweredCount => _answered.Count;

    public bool TryGetRunning(RequestKey key, out TRunning running) => _running.TryGetValue(key, out running!);

    public bool TryGetAnswer(RequestKey key, out RememberedReply reply) => _answered.TryGetValue(key, out reply!);

    public void Start(RequestKey key, TRunning running) => _running[key] = running;

    /// <summary>The request is no longer in progress; nothing is remembered of it (it never ran, or may run again).</summary>
    public void Forget(RequestKey key, TRunning running)
    {
        if (_running.TryGetValue(key, out var current) && ReferenceEquals(current, running))
        {
            _running.Remove(key);
        }
    }

    /// <summary>The request was answered: a repeat within the window gets <paramref name="reply"/>.</summary>
    public void Remember(RequestKey key, TRunning running, RememberedReply reply)
    {
        Forget(key, running);
        if (capacity == 0)
        {
            return;
        }

        _answered[key] = reply;
        _order.Enqueue((key, clock.GetTimestamp()));
        while (_order.Count > capacity)
        {
            _answered.Remove(_order.Dequeue().Key);
        }
    }

    /// <summary>Drops answers older than the window.</summary>
    public void Expire(long now)
    {
        while (_order.TryPeek(out var oldest) && now - oldest.At > _windowTicks)
        {
            _order.Dequeue();
            _answered.Remove(oldest.Key);
        }
    }
}
