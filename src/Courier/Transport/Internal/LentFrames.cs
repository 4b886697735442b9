using System.Buffers;

namespace Courier.Transport.Internal;

/// <summary>
/// Large frames a handler borrows from the transport (<see cref="MessageFrames.Detach"/>) instead of getting copies:
/// given back, once, after the handler's reply has been sent. A default value lends nothing; null entries are skipped.
/// </summary>
internal readonly struct LentFrames(MemoryManager<byte>?[]? frames)
{
    /// <summary>
    /// The frames from <paramref name="start"/> on, as a handler's body: each small one an array of its own, each large
    /// one received as it came (<see cref="MessageFrames.IsOwned"/>) lent.
    /// </summary>
    public static LentBody BodyFrom(MessageFrames message, int start)
    {
        var body = new ReadOnlyMemory<byte>[Math.Max(0, message.Count - start)];
        List<MemoryManager<byte>>? lent = null;
        for (var i = 0; i < body.Length; i++)
        {
            if (message.IsOwned(start + i))
            {
                var frame = message.Detach(start + i);
                (lent ??= []).Add(frame);
                body[i] = frame.Memory;
            }
            else
            {
                body[i] = message.ToArray(start + i);
            }
        }

        return new LentBody(body, new LentFrames(lent?.ToArray()));
    }

    /// <summary>
    /// <paramref name="frames"/>, with a copy of each frame that is memory of the transport's (lent, and so valid only for
    /// a while): what may be kept for good.
    /// </summary>
    public static ReadOnlyMemory<byte>[] Owned(ReadOnlyMemory<byte>[] frames)
    {
        ReadOnlyMemory<byte>[]? owned = null;
        for (var i = 0; i < frames.Length; i++)
        {
            if (System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, MemoryManager<byte>>(frames[i], out _))
            {
                owned ??= (ReadOnlyMemory<byte>[])frames.Clone();
                owned[i] = frames[i].ToArray();
            }
        }

        return owned ?? frames;
    }

    /// <summary>Gives the frames back; what still reads them throws <see cref="ObjectDisposedException"/> from now on.</summary>
    public void Dispose()
    {
        foreach (var frame in frames ?? [])
        {
            ((IDisposable?)frame)?.Dispose();
        }
    }
}

/// <summary>A handler's body frames, and those of them that are lent (<see cref="LentFrames"/>).</summary>
internal readonly record struct LentBody(ReadOnlyMemory<byte>[] Frames, LentFrames Lent);
