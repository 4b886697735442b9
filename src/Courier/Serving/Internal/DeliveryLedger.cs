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
/// <remarks>
/// Shares of the count: once it is full, the client holding the most (known as of its last answer) gives up its own
/// oldest while it holds more than its share (the count over the clients holding answers, at least
/// <see cref="MinimumShare"/>); only then do the oldest of all go. Without it, one client answering fast enough pushed
/// every other client's answers out within the window, and their repeats ran again. The bytes are shared too, so that
/// one client's large replies do not turn every other client's remembered replies into 520s: past them the client just
/// answered, then the one holding the most bytes, then the next, drop their own oldest bodies while over their share
/// (the bound over the clients holding answers, at least 1/<see cref="MinimumByteShares"/> of it); only when none is
/// over its share do the oldest bodies of all go.
/// A client is its identity, or under CURVE its key (one key can draw any number of identities); one that can
/// multiply itself is not held back.
/// </remarks>
/// <typeparam name="TRunning">What the owner holds for a request in progress.</typeparam>
internal sealed class DeliveryLedger<TRunning>(TimeSpan window, int capacity, TimeProvider clock, long maxBytes = AtMostOnce.MaxBytes)
    where TRunning : class
{
    private readonly Dictionary<RequestKey, TRunning> _running = [];
    private readonly Dictionary<RequestKey, LedgerAnswer> _answered = [];
    // Every answer remembered, oldest first. A key answered again has two places here: the older one, reaching the
    // front, removes nothing (its answer has left).
    private readonly Queue<(RequestKey Key, LedgerAnswer Answer, long At)> _order = new();

    // Each client's answers, oldest first, while it holds any; an answer that left stays until it reaches the front.
    private readonly Dictionary<ClientShare, LedgerShare> _shares = [];
    private LedgerShare? _heaviest;
    // The client holding the most bytes, found only when the bytes are over the bound.
    private readonly HeaviestShares _heaviestBytes = new();

    // The answers that held a body when remembered, oldest first: whose body goes first when the bytes are over the
    // bound. An answer that has left (or lost its body) stays here, holding nothing, until it reaches the front.
    private readonly Queue<LedgerAnswer> _bodies = new();
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
    public void Remember(RequestKey key, RememberedReply reply, string? userId = null)
    {
        if (capacity == 0)
        {
            return;
        }

        var size = SizeOf(reply);
        var answer = size > maxBytes ? new LedgerAnswer(Forgotten(size), 0) : new LedgerAnswer(reply, size);
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_answered, key, out var existed);
        if (existed)
        {
            _bytes -= slot!.Bytes;
            Release(slot); // its places in the queues stay, holding nothing; the key's new place is the newest
        }

        slot = answer; // the ref is not used past here: Remove below changes _answered
        var share = ShareOf(new ClientShare(userId is null ? key.Client : default, userId));
        answer.Share = share;
        _order.Enqueue((key, answer, clock.GetTimestamp()));
        share.Add(key, answer);
        if (answer.Bytes > 0)
        {
            _bytes += answer.Bytes;
            _bodies.Enqueue(answer);
            share.AddBody(answer);
            _heaviestBytes.Grew(share);
            if (_heaviestBytes.Count > (2 * _shares.Count) + 64)
            {
                _heaviestBytes.Rebuild(_shares.Values);
            }
        }

        if (_heaviest is null || share.Live > _heaviest.Live)
        {
            _heaviest = share;
        }

        // Full: the client holding the most gives up its own oldest while it holds more than its share; else the oldest
        // of all go. The heaviest is known as of its last answer: another that has grown since takes its place at its
        // next one, so the heaviest few give up their answers by turns.
        if (_answered.Count > capacity && _heaviest is { } heaviest && heaviest.Live > FairShare()
            && heaviest.TryTakeOldest(out var ownKey, out var ownAnswer))
        {
            Remove(ownKey, ownAnswer);
        }

        while (_answered.Count > capacity && _order.TryDequeue(out var oldest))
        {
            Remove(oldest.Key, oldest.Answer);
        }

        // Answers that left by their client's share keep their places in both queues: dropped once they are half of one.
        var bound = 2 * Math.Max(_answered.Count, 1024);
        if (_order.Count > bound)
        {
            QueueCompaction.InPlace(_order, static entry => !entry.Answer.Left);
        }

        if (_bodies.Count > bound)
        {
            QueueCompaction.InPlace(_bodies, static answer => answer.Bytes > 0);
        }

        if (_bytes > maxBytes)
        {
            TrimBytes(share);
        }
    }

    /// <summary>
    /// Over the bytes: the client just answered, then the one holding the most, then the next, drop their own oldest
    /// bodies while over their share; only when no client is over its share (more than 64 clients hold answers) do the
    /// oldest bodies of all go.
    /// </summary>
    private void TrimBytes(LedgerShare answered)
    {
        var fair = FairBytes();
        TrimOwn(answered, fair);
        while (_bytes > maxBytes && _heaviestBytes.Heaviest() is { } heavy && heavy.Bytes > fair)
        {
            if (!TrimOwn(heavy, fair))
            {
                break; // nothing of its own to drop: not expected, but the oldest of all still go
            }
        }

        while (_bytes > maxBytes && _bodies.TryDequeue(out var oldest))
        {
            if (oldest.Bytes > 0)
            {
                DropBody(oldest); // one that left, or lost its body to its client's share, has nothing to drop
            }
        }
    }

    /// <summary>Drops <paramref name="share"/>'s oldest bodies while the bytes are over the bound and it is over its share.</summary>
    private bool TrimOwn(LedgerShare share, long fair)
    {
        var dropped = false;
        while (_bytes > maxBytes && share.Bytes > fair && share.TryTakeOldestBody(out var own))
        {
            DropBody(own);
            dropped = true;
        }

        return dropped;
    }

    /// <summary>The entry stays, without its body: a repeat is still never run again, and is answered 520.</summary>
    private void DropBody(LedgerAnswer answer)
    {
        _bytes -= answer.Bytes;
        answer.DropBody(Forgotten(answer.Bytes));
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

    private void Remove(RequestKey key, LedgerAnswer answer)
    {
        if (!answer.Left)
        {
            _answered.Remove(key);
            _bytes -= answer.Bytes;
            Release(answer);
        }
    }

    /// <summary>The answer leaves; so does its client's share once it holds none.</summary>
    private void Release(LedgerAnswer answer)
    {
        if (answer.Release() is { Live: 0 } share)
        {
            share.Clear(); // the heap may hold it until it is next asked or rebuilt: not its queues' arrays
            _shares.Remove(share.Owner);
            if (ReferenceEquals(_heaviest, share))
            {
                _heaviest = null;
            }
        }
    }

    private LedgerShare ShareOf(ClientShare owner)
    {
        ref var share = ref CollectionsMarshal.GetValueRefOrAddDefault(_shares, owner, out _);
        return share ??= new LedgerShare(owner);
    }

    /// <summary>
    /// A client's fair share of the count: the capacity over the clients holding answers, but never under
    /// <see cref="MinimumShare"/>, so that a client with a few answers keeps them however many clients there are.
    /// </summary>
    private int FairShare() => Math.Max(MinimumShare, capacity / _shares.Count);

    /// <summary>The share below which no client gives up its own answers for the others.</summary>
    internal const int MinimumShare = 16;

    /// <summary>
    /// A client's fair share of the bytes: the bound over the clients holding answers, but never under
    /// 1/<see cref="MinimumByteShares"/> of it.
    /// </summary>
    private long FairBytes() => maxBytes / Math.Clamp(_shares.Count, 1, MinimumByteShares);

    /// <summary>However many clients hold answers, each may keep this share of the bytes (1/64: 1 MiB of 64 MiB).</summary>
    internal const int MinimumByteShares = 64;

    /// <summary>The clients holding answers now (tests).</summary>
    internal int ShareCount => _shares.Count;

    private static long SizeOf(RememberedReply reply)
    {
        // Each frame past the first counts for its array too: a body of many empty frames holds more than its bytes.
        long size = reply.Headers.Length + ((long)Math.Max(0, reply.Body.Length - 1) * Courier.Internal.FrameCost.Managed);
        foreach (var frame in reply.Body)
        {
            size += frame.Length;
        }

        return size;
    }
}
