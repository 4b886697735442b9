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
/// answered, then the one known to hold the most bytes, drop their own oldest bodies while over their share (the
/// bound over the clients holding answers, at least 1/<see cref="MinimumByteShares"/> of it); then the oldest bodies
/// of clients over their share go, and only then (past <see cref="MaxSkips"/> within their share) the oldest of all.
/// A client is its identity, or under CURVE its key (one key can draw any number of identities); one that can
/// multiply itself is not held back.
/// </remarks>
/// <typeparam name="TRunning">What the owner holds for a request in progress.</typeparam>
internal sealed class DeliveryLedger<TRunning>(TimeSpan window, int capacity, TimeProvider clock, long maxBytes = AtMostOnce.MaxBytes)
    where TRunning : class
{
    private readonly Dictionary<RequestKey, TRunning> _running = [];
    private readonly Dictionary<RequestKey, Answer> _answered = [];
    // Every answer remembered, oldest first. A key answered again has two places here: the older one, reaching the
    // front, removes nothing (its answer has left).
    private readonly Queue<(RequestKey Key, Answer Answer, long At)> _order = new();

    // Each client's answers, oldest first, while it holds any; an answer that left stays until it reaches the front.
    private readonly Dictionary<ClientShare, Share> _shares = [];
    private Share? _heaviest;
    private Share? _heaviestBytes;

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
    public void Remember(RequestKey key, RememberedReply reply, string? userId = null)
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
            if (_heaviestBytes is null || share.Bytes > _heaviestBytes.Bytes)
            {
                _heaviestBytes = share;
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
            CompactInPlace(_order, static entry => !entry.Answer.Left);
        }

        if (_bodies.Count > bound)
        {
            CompactInPlace(_bodies, static answer => answer.Bytes > 0);
        }

        if (_bytes > maxBytes)
        {
            TrimBytes(share);
        }
    }

    /// <summary>
    /// Over the bytes: the client just answered, then the one known to hold the most, drop their own oldest bodies
    /// while over their share of the bytes; then the oldest bodies of clients over their share, then of all.
    /// </summary>
    private void TrimBytes(Share answered)
    {
        var fair = FairBytes();
        TrimOwn(answered, fair);
        if (_heaviestBytes is { } heavy)
        {
            TrimOwn(heavy, fair);
        }

        // The heaviest is known as of its last answer: another may hold more and not answer again. The oldest bodies
        // of clients within their share go to the back instead, a bounded number per answer so that the cost stays in
        // proportion, after which the oldest of all go.
        var skips = MaxSkips;
        while (_bytes > maxBytes && _bodies.TryDequeue(out var oldest))
        {
            if (oldest.Bytes == 0)
            {
                continue; // it left, or lost its body to its client's share: nothing to drop
            }

            if (skips > 0 && oldest.Share is { } owner && owner.Bytes <= fair)
            {
                skips--;
                _bodies.Enqueue(oldest);
                continue;
            }

            DropBody(oldest);
        }
    }

    private void TrimOwn(Share share, long fair)
    {
        while (_bytes > maxBytes && share.Bytes > fair && share.TryTakeOldestBody(out var own))
        {
            DropBody(own);
        }
    }

    /// <summary>How many bodies of clients within their share one answer may pass over before the oldest of all go.</summary>
    private const int MaxSkips = 64;

    /// <summary>The entry stays, without its body: a repeat is still never run again, and is answered 520.</summary>
    private void DropBody(Answer answer)
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

    private void Remove(RequestKey key, Answer answer)
    {
        if (!answer.Left)
        {
            _answered.Remove(key);
            _bytes -= answer.Bytes;
            Release(answer);
        }
    }

    /// <summary>The answer leaves; so does its client's share once it holds none.</summary>
    private void Release(Answer answer)
    {
        if (answer.Release() is { Live: 0 } share)
        {
            _shares.Remove(share.Owner);
            if (ReferenceEquals(_heaviest, share))
            {
                _heaviest = null;
            }

            if (ReferenceEquals(_heaviestBytes, share))
            {
                _heaviestBytes = null;
            }
        }
    }

    private Share ShareOf(ClientShare owner)
    {
        ref var share = ref CollectionsMarshal.GetValueRefOrAddDefault(_shares, owner, out _);
        return share ??= new Share(owner);
    }

    /// <summary>Keeps, in order, the entries that still hold something: each dequeued once, the kept ones enqueued again.</summary>
    private static void CompactInPlace<T>(Queue<T> queue, Func<T, bool> holds)
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

        /// <summary>Whose answer it is, for the fair share; null once it left.</summary>
        public Share? Share { get; set; }

        /// <summary>Leaves the ledger: counts no bytes and holds no body from now on. Returns the share it left.</summary>
        public Share? Release()
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
    private readonly record struct ClientShare(ClientIdentity Client, string? UserId)
    {
        // Every bit, seeded, as RequestKey's: the client picks its identity, and the generated hash folds each ulong.
        public override int GetHashCode() => HashCode.Combine(
            (uint)Client.High, (uint)(Client.High >> 32), (uint)Client.Low, (uint)(Client.Low >> 32), UserId);
    }

    /// <summary>One client's answers in the ledger, oldest first, how many of them have not left, and their bytes.</summary>
    private sealed class Share(ClientShare owner)
    {
        private readonly Queue<(RequestKey Key, Answer Answer)> _answers = new();

        // Its answers that held a body when remembered, oldest first; one whose body went stays until it reaches the front.
        private readonly Queue<Answer> _bodies = new();

        public ClientShare Owner { get; } = owner;

        public int Live { get; private set; }

        /// <summary>The bytes of its answers' bodies and headers still kept.</summary>
        public long Bytes { get; private set; }

        public void Add(RequestKey key, Answer answer)
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

        public bool TryTakeOldest(out RequestKey key, out Answer answer)
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

        public void AddBody(Answer answer)
        {
            // Bodies that went out of order (a repeat's newer answer, the oldest of all) stay behind a kept one: dropped
            // once they are half of the queue, as the ledger's own queues are.
            if (_bodies.Count > 2 * Math.Max(Live, 512))
            {
                CompactInPlace(_bodies, static answer => answer.Bytes > 0);
            }

            _bodies.Enqueue(answer);
            Bytes += answer.Bytes;
        }

        public bool TryTakeOldestBody(out Answer answer)
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
    }
}
