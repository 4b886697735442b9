namespace Courier.Transport.Internal;

/// <summary>
/// Which messages count against a peer's <see cref="TransportOptions.MaxPendingBytesPerPeer"/>: the rule both
/// transports' counts (<see cref="Native.PeerBacklog"/>, <see cref="NetMQ.NetMqPeerBacklog"/>) share.
/// </summary>
internal static class PendingBytes
{
    /// <summary>Messages smaller than this are not counted: copying them is cheaper than tracking them.</summary>
    public const int TrackedMinimum = 1024;

    /// <summary>
    /// What a transport holds for each frame beyond its bytes: libzmq a 64-byte message slot (<c>zmq_msg_t</c>) however
    /// small the frame, so that a message of many empty frames is counted for what it costs, not for its bytes.
    /// </summary>
    public const int PerFrame = 64;

    /// <summary>Whether a message of <paramref name="frames"/> is counted: its size then, in <paramref name="total"/>.</summary>
    public static bool Counts(ReadOnlySpan<ReadOnlyMemory<byte>> frames, out long total)
    {
        total = (long)frames.Length * PerFrame;
        foreach (var frame in frames)
        {
            total += frame.Length;
        }

        return total >= TrackedMinimum;
    }
}
