using Courier.Protocol.Internal;

namespace Courier.Serving.Internal;

/// <summary>An answered request's reply in a <see cref="DeliveryLedger{TRunning}"/>, and the bytes it counts (0 once its body is no longer kept).</summary>
internal sealed class LedgerAnswer(RememberedReply reply, long bytes)
{
    // What an answer that left the ledger (replaced or removed) holds instead of its reply, and how it is known to have
    // left: its places in the queues keep it until they reach the front, and no one reads it, so its body goes at once.
    private static readonly RememberedReply Released = new(0, [], []);

    public RememberedReply Reply { get; private set; } = reply;

    public long Bytes { get; private set; } = bytes;

    /// <summary>Whether it left the ledger: a newer answer of the same request took its place, or it was removed.</summary>
    public bool Left => ReferenceEquals(Reply, Released);

    /// <summary>Whose answer it is, for the fair shares; null once it left.</summary>
    public LedgerShare? Share { get; set; }

    /// <summary>Leaves the ledger: counts no bytes and holds no body from now on. Returns the share it left.</summary>
    public LedgerShare? Release()
    {
        var share = Share;
        share?.Left(Bytes);
        Bytes = 0;
        Reply = Released;
        Share = null;
        return share;
    }

    /// <summary>Stays, answered <paramref name="forgotten"/> from now on, and counts no bytes.</summary>
    public void DropBody(RememberedReply forgotten)
    {
        Share?.DroppedBody(Bytes);
        Reply = forgotten;
        Bytes = 0;
    }
}

/// <summary>Whose answers they are: a client identity, or under CURVE the key (its Z85 <c>User-Id</c>).</summary>
internal readonly record struct ClientShare(ClientIdentity Client, string? UserId)
{
    // Every bit, seeded, as RequestKey's: the client picks its identity, and the generated hash folds each ulong.
    public override int GetHashCode() => HashCode.Combine(
        (uint)Client.High, (uint)(Client.High >> 32), (uint)Client.Low, (uint)(Client.Low >> 32), UserId);
}

/// <summary>One client's answers in the ledger, oldest first, how many of them have not left, and their bytes.</summary>
internal sealed class LedgerShare(ClientShare owner)
{
    private readonly Queue<(RequestKey Key, LedgerAnswer Answer)> _answers = new();

    // Its answers that held a body when remembered, oldest first; one whose body went stays until it reaches the front.
    private readonly Queue<LedgerAnswer> _bodies = new();

    public ClientShare Owner { get; } = owner;

    public int Live { get; private set; }

    /// <summary>The bytes of its answers' bodies and headers still kept.</summary>
    public long Bytes { get; private set; }

    /// <summary>At least <see cref="Bytes"/>: where <see cref="HeaviestShares"/> holds it (0 while it is not held there).</summary>
    internal long Bound { get; set; }

    /// <summary>Which of its places in <see cref="HeaviestShares"/> is current.</summary>
    internal int Version { get; set; }

    public void Add(RequestKey key, LedgerAnswer answer)
    {
        // The fronts first: answers that left by age or by a newer answer of theirs go, and bodies that went, so the
        // queues hold about what is kept, whether or not this answer has a body.
        while (_answers.TryPeek(out var front) && front.Answer.Left)
        {
            _answers.Dequeue();
        }

        while (_bodies.TryPeek(out var body) && body.Bytes == 0)
        {
            _bodies.Dequeue();
        }

        _answers.Enqueue((key, answer));
        Live++;
    }

    public bool TryTakeOldest(out RequestKey key, out LedgerAnswer answer)
    {
        while (_answers.TryDequeue(out var front))
        {
            if (!front.Answer.Left)
            {
                (key, answer) = front;
                return true;
            }
        }

        (key, answer) = (default, null!);
        return false;
    }

    public void AddBody(LedgerAnswer answer)
    {
        // Bodies that went out of order (a repeat's newer answer, the oldest of all) stay behind a kept one: dropped
        // once they are half of the queue, as the ledger's own queues are.
        if (_bodies.Count > 2 * Math.Max(Live, 512))
        {
            QueueCompaction.InPlace(_bodies, static answer => answer.Bytes > 0);
        }

        _bodies.Enqueue(answer);
        Bytes += answer.Bytes;
    }

    public bool TryTakeOldestBody(out LedgerAnswer answer)
    {
        while (_bodies.TryDequeue(out answer!))
        {
            if (answer.Bytes > 0)
            {
                return true;
            }
        }

        return false;
    }

    public void Left(long bytes)
    {
        Live--;
        Bytes -= bytes;
    }

    public void DroppedBody(long bytes) => Bytes -= bytes;

    /// <summary>It holds no answer any more: its queues, which hold only answers that left, go.</summary>
    public void Clear()
    {
        _answers.Clear();
        _answers.TrimExcess();
        _bodies.Clear();
        _bodies.TrimExcess();
    }
}

/// <summary>
/// The client holding the most bytes, without sorting the shares at every answer: each share with bytes sits in a
/// max-heap under a bound at least its bytes, set to twice its bytes whenever it grows past it (so growing costs a push
/// only each time a share doubles), and lowered to its bytes as a query passes it. A query tightens bounds from the top
/// until the top's bytes reach the next bound: that share holds the most.
/// </summary>
internal sealed class HeaviestShares
{
    private readonly PriorityQueue<(LedgerShare Share, int Version), long> _heap =
        new(Comparer<long>.Create(static (a, b) => b.CompareTo(a)));

    /// <summary>Places held, current or stale (tests, and when to rebuild).</summary>
    public int Count => _heap.Count;

    /// <summary><paramref name="share"/>'s bytes grew.</summary>
    public void Grew(LedgerShare share)
    {
        if (share.Bytes > share.Bound)
        {
            Place(share, 2 * share.Bytes);
        }
    }

    /// <summary>The share holding the most bytes, or null when none holds any.</summary>
    public LedgerShare? Heaviest()
    {
        while (_heap.TryDequeue(out var entry, out _))
        {
            var share = entry.Share;
            if (entry.Version != share.Version)
            {
                continue; // a place it had before it grew past it
            }

            if (share.Bytes == 0)
            {
                share.Bound = 0; // held nowhere now: its next body places it again
                share.Version++;
                continue;
            }

            var next = _heap.TryPeek(out _, out var bound) ? bound : 0;
            Place(share, share.Bytes);
            if (share.Bytes >= next)
            {
                return share; // every other share's bytes are at most its bound, at most this
            }
        }

        return null;
    }

    /// <summary>Drops every stale place: each share with bytes held once, under its bytes.</summary>
    public void Rebuild(IEnumerable<LedgerShare> shares)
    {
        _heap.Clear();
        foreach (var share in shares)
        {
            share.Bound = 0;
            share.Version++;
            if (share.Bytes > 0)
            {
                Place(share, share.Bytes);
            }
        }
    }

    private void Place(LedgerShare share, long bound)
    {
        share.Bound = bound;
        share.Version++;
        _heap.Enqueue((share, share.Version), bound);
    }
}

/// <summary>Compaction of the ledgers' queues, whose entries that no longer hold anything wait to reach the front.</summary>
internal static class QueueCompaction
{
    /// <summary>Keeps, in order, the entries that still hold something: each dequeued once, the kept ones enqueued again.</summary>
    public static void InPlace<T>(Queue<T> queue, Func<T, bool> holds)
    {
        for (var n = queue.Count; n > 0; n--)
        {
            var entry = queue.Dequeue();
            if (holds(entry))
            {
                queue.Enqueue(entry);
            }
        }
    }
}
