using System.Runtime.InteropServices;
using Courier.Protocol.Internal;

namespace Courier.Serving.Internal;

/// <summary>A reply remembered for a repeated attempt: status, body, encoded headers.</summary>
internal sealed record RememberedReply(int Status, ReadOnlyMemory<byte>[] Body, byte[] Headers);

/// <summary>
/// At-most-once (courier/5, docs/protocol.md §8), for a server or a broker: the requests in progress by
/// (client identity, request id), so that a repeated attempt joins the one running instead of running again, and the
/// replies of those recently answered, so that it gets the remembered reply. Answered entries are bounded by count
/// (<c>capacity</c>) and age (<c>window</c>), oldest out first, and their bodies by bytes (<c>maxBytes</c>): past it
/// the oldest bodies are dropped and their entries kept, so that a repeat still never runs again but is answered 520
/// (<see cref="Forgotten"/>). Entries in progress are bounded by what the owner admits (queues, concurrency). Loop
/// thread only.
/// </summary>
/// <typeparam name="TRunning">What the owner holds for a request in progress.</typeparam>
internal sealed class DeliveryLedger<TRunning>(TimeSpan window, int capacity, TimeProvider clock, long maxBytes = AtMostOnce.MaxBytes)
    where TRunning : class
{
    private readonly Dictionary<RequestKey, TRunning> _running = [];
    private readonly Dictionary<RequestKey, Answer> _answered = [];
    // Every answer remembered, oldest first. A key answered again has two places here: the older one, reaching the
    // front, removes nothing (its answer has left).
    private readonly Queue<(RequestKey Key, Answer Answer, long At)> _order = new();

    // The answers that held a body when remembered, oldest first: whose body goes first when the bytes are over the
    // bound. An answer that has left (or lost its body) stays here, holding nothing, until it reaches the front.
    private readonly Queue<Answer> _bodies = new();
    // What an answer that left the ledger (replaced or removed) holds instead of its reply, and how it is known to have
    // left: its places in the queues keep it until they reach the front, and no one reads it, so its body goes at once.
    private static readonly RememberedReply Released = new(0, [], []);
    private readonly long _windowTicks = (long)(window.TotalSeconds * clock.TimestampFrequency);
    private long _bytes;

    public int RunningCount => _running.Count;

    public int AnsweredCount => _answered.Count;

    /// <summary>The bytes of the reply bodies and headers remembered now.</summary>
    public long RememberedBytes => _bytes;

    public bool TryGetRunning(RequestKey key, out TRunning running) => _running.TryGetValue(key, out running!);

    public bool TryGetAnswer(RequestKey key, out RememberedReply reply)
    {
        // Most requests are idempotent, so nothing is remembered: no hash of the key then.
        reply = _answered.Count > 0 && _answered.TryGetValue(key, out var answer) ? answer.Reply : null!;
        return reply is not null;
    }

    public void Start(RequestKey key, TRunning running) => _running[key] = running;

    /// <summary>
    /// The request is no longer in progress; nothing is remembered of it (it never ran, or may run again). Nothing happens
    /// when <paramref name="running"/> is not what the ledger holds for <paramref name="key"/>. False then.
    /// </summary>
    public bool Forget(RequestKey key, TRunning running) => Forget(key, running, static (current, running) => ReferenceEquals(current, running));

    /// <summary>As <see cref="Forget(RequestKey, TRunning)"/>, where <paramref name="ours"/> tells whether what the ledger holds is the request's.</summary>
    public bool Forget<TState>(RequestKey key, TState state, Func<TRunning, TState, bool> ours)
    {
        // One lookup: the entry is taken out, and put back in the rare case it is another's.
        if (!_running.Remove(key, out var current))
        {
            return false;
        }

        if (!ours(current, state))
        {
            _running[key] = current;
            return false;
        }

        return true;
    }

    /// <summary>
    /// The request was answered: a repeat within the window gets <paramref name="reply"/>. Whoever ran it calls
    /// <see cref="Forget"/> as well, before or after.
    /// </summary>
    public void Remember(RequestKey key, RememberedReply reply)
    {
        if (capacity == 0)
        {
            return;
        }

        var size = SizeOf(reply);
        var answer = size > maxBytes ? new Answer(Forgotten(size), 0) : new Answer(reply, size);
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_answered, key, out var existed);
        if (existed)
        {
            _bytes -= slot!.Bytes;
            slot.Release(); // its places in the queues stay, holding nothing; the key's new place is the newest
        }

        slot = answer;
        _order.Enqueue((key, answer, clock.GetTimestamp()));
        if (answer.Bytes > 0)
        {
            _bytes += answer.Bytes;
            _bodies.Enqueue(answer);
        }

        while (_order.Count > capacity)
        {
            var (oldKey, oldAnswer, _) = _order.Dequeue();
            Remove(oldKey, oldAnswer);
        }

        while (_bytes > maxBytes && _bodies.TryDequeue(out var oldest))
        {
            if (oldest.Left)
            {
                continue; // nothing to drop, and a Forgotten reply would make it look present again
            }

            // The entry stays, without its body: a repeat is still never run again.
            _bytes -= oldest.Bytes;
            oldest.Reply = Forgotten(oldest.Bytes);
            oldest.Bytes = 0;
        }
    }

    /// <summary>Drops answers older than the window.</summary>
    public void Expire(long now)
    {
        while (_order.TryPeek(out var oldest) && now - oldest.At > _windowTicks)
        {
            _order.Dequeue();
            Remove(oldest.Key, oldest.Answer);
        }

        while (_bodies.TryPeek(out var first) && first.Bytes == 0)
        {
            _bodies.Dequeue();
        }
    }

    /// <summary>
    /// What a repeat is answered once its reply's body is no longer kept: it ran, so it does not run again, and its caller
    /// learns that the outcome cannot be told to it.
    /// </summary>
    internal static RememberedReply Forgotten(long size) => new(
        Protocol.CourierStatus.OutcomeUnknown,
        [System.Text.Encoding.UTF8.GetBytes($"answered, but its reply ({size} bytes) is no longer kept for a repeat: not run again")],
        []);

    private void Remove(RequestKey key, Answer answer)
    {
        if (!answer.Left)
        {
            _answered.Remove(key);
            _bytes -= answer.Bytes;
            answer.Release();
        }
    }

    private static long SizeOf(RememberedReply reply)
    {
        long size = reply.Headers.Length;
        foreach (var frame in reply.Body)
        {
            size += frame.Length;
        }

        return size;
    }

    /// <summary>An answered request's reply, and the bytes it counts (0 once its body is no longer kept).</summary>
    private sealed class Answer(RememberedReply reply, long bytes)
    {
        public RememberedReply Reply { get; set; } = reply;

        public long Bytes { get; set; } = bytes;

        /// <summary>Whether it left the ledger: a newer answer of the same request took its place, or it was removed.</summary>
        public bool Left => ReferenceEquals(Reply, Released);

        /// <summary>Leaves the ledger: counts no bytes and holds no body from now on.</summary>
        public void Release()
        {
            Bytes = 0;
            Reply = Released;
        }
    }
}
