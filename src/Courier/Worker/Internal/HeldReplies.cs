using Courier.Transport.Internal;

namespace Courier.Worker.Internal;

/// <summary>
/// The replies of one connection that its socket refused (its high-water mark, or its bytes not yet written past
/// <c>MaxPendingBytesPerPeer</c>: the broker has not read what it was sent), copied and kept in order, and sent again
/// before anything new: at the end of every turn and at every tick. While the connection lives a reply is so late, never
/// lost, and the broker never counts a request as held forever by a worker that answered it. A broker may leave unread
/// as many replies as the worker's capacity lets it have requests out (<paramref name="maxReplies"/>: it counts a request
/// until its reply arrives); one that sends more and never reads could make it hold without end. Past both
/// <paramref name="maxBytes"/> (each frame counted with <see cref="FrameOverhead"/> more, so that many small replies count
/// too) and that many replies it is <see cref="Overflowing"/>, and its owner ends the connection (the broker then settles
/// what it gave this worker as for one gone). Within both, a broker that keeps heartbeating and never reads would have it
/// hold them for good: <see cref="StalledFor"/> says for how long, and its owner ends the connection past the
/// heartbeat expiry with nothing written meanwhile, as it does a broker that went silent. Loop thread only.
/// </summary>
internal sealed class HeldReplies(ITransportSocket socket, long maxBytes, Func<int> maxReplies, TimeProvider clock)
{
    /// <summary>What a held frame costs beyond its bytes (its array and its slot), roughly.</summary>
    public const int FrameOverhead = 64;

    private readonly Queue<(ReadOnlyMemory<byte>[] Frames, int Replies, long Bytes)> _held = new();
    private long _bytes;
    private long _movedAt;
    private long _pending;

    /// <summary>How many replies wait (a held batch counts each of its records).</summary>
    public int Count { get; private set; }

    /// <summary>Nothing waits: neither a reply nor a command queued behind replies.</summary>
    public bool IsEmpty => _held.Count == 0;

    /// <summary>Holds more than its bounds allow: the connection should end.</summary>
    public bool Overflowing => _bytes > maxBytes && Count > maxReplies();

    /// <summary>
    /// How long (in <see cref="TimeProvider"/> ticks, at <paramref name="now"/>) something has been held with nothing
    /// written meanwhile: no held reply leaving, and no message counted unwritten in the socket
    /// (<see cref="ITransportSocket.LargestPendingBytes"/>) written, which lets a held reply too large to fit beside them
    /// wait for them. Zero when nothing is held. Its owner asks at every tick.
    /// </summary>
    public long StalledFor(long now)
    {
        var pending = socket.LargestPendingBytes;
        if (IsEmpty || pending < _pending)
        {
            _movedAt = now;
        }

        _pending = pending;
        return IsEmpty ? 0 : now - _movedAt;
    }

    /// <summary>
    /// Sends <paramref name="frames"/> (<paramref name="replies"/> replies) after those held, or holds a copy; once
    /// <see cref="Overflowing"/>, drops it instead (the connection is about to end).
    /// </summary>
    public Outcome Send(ReadOnlySpan<ReadOnlyMemory<byte>> frames, int replies)
    {
        if (IsEmpty && socket.TrySend(frames))
        {
            return Outcome.Sent;
        }

        if (Overflowing)
        {
            return Outcome.Dropped;
        }

        var copy = new ReadOnlyMemory<byte>[frames.Length];
        long bytes = 0;
        for (var i = 0; i < frames.Length; i++)
        {
            copy[i] = frames[i].ToArray();
            bytes += frames[i].Length + FrameOverhead;
        }

        if (IsEmpty)
        {
            _movedAt = clock.GetTimestamp();
        }

        _held.Enqueue((copy, replies, bytes));
        Count += replies;
        _bytes += bytes;
        return Outcome.Held;
    }

    /// <summary>Sends what is held, in order, until the socket refuses again. True when nothing is left.</summary>
    public bool Retry()
    {
        var moved = false;
        while (_held.TryPeek(out var next))
        {
            if (!socket.TrySend(next.Frames))
            {
                if (moved)
                {
                    _movedAt = clock.GetTimestamp();
                }

                return false;
            }

            moved = true;
            _held.Dequeue();
            Count -= next.Replies;
            _bytes -= next.Bytes;
        }

        return true;
    }

    /// <summary>Forgets what is held (the connection ends); returns how many replies that was.</summary>
    public int Discard()
    {
        var lost = Count;
        _held.Clear();
        Count = 0;
        _bytes = 0;
        return lost;
    }

    public enum Outcome
    {
        Sent,
        Held,
        Dropped,
    }
}
