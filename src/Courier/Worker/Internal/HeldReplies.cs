using Courier.Transport.Internal;

namespace Courier.Worker.Internal;

/// <summary>
/// The replies of one connection that its socket refused (its high-water mark: the broker has not read what it was sent),
/// copied and kept in order, and sent again before anything new: at the end of every turn and at every tick. While the
/// connection lives a reply is so late, never lost, and the broker never counts a request as held forever by a worker
/// that answered it. What it holds is bounded by the worker's own concurrency and prefetch (the broker is answered
/// <c>503</c> beyond them). Loop thread only.
/// </summary>
internal sealed class HeldReplies(ITransportSocket socket)
{
    private readonly Queue<(ReadOnlyMemory<byte>[] Frames, int Replies)> _held = new();

    /// <summary>How many replies wait (a held batch counts each of its records).</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Sends <paramref name="frames"/> (<paramref name="replies"/> replies) after those held, or holds a copy. True when the
    /// socket took it now.
    /// </summary>
    public bool Send(ReadOnlySpan<ReadOnlyMemory<byte>> frames, int replies)
    {
        if (_held.Count == 0 && socket.TrySend(frames))
        {
            return true;
        }

        var copy = new ReadOnlyMemory<byte>[frames.Length];
        for (var i = 0; i < frames.Length; i++)
        {
            copy[i] = frames[i].ToArray();
        }

        _held.Enqueue((copy, replies));
        Count += replies;
        return false;
    }

    /// <summary>Sends what is held, in order, until the socket refuses again. True when nothing is left.</summary>
    public bool Retry()
    {
        while (_held.TryPeek(out var next))
        {
            if (!socket.TrySend(next.Frames))
            {
                return false;
            }

            _held.Dequeue();
            Count -= next.Replies;
        }

        return true;
    }

    /// <summary>Forgets what is held (the connection ends); returns how many replies that was.</summary>
    public int Discard()
    {
        var lost = Count;
        _held.Clear();
        Count = 0;
        return lost;
    }
}
