namespace Courier.Transport.Internal;

/// <summary>
/// Which messages count against a peer's <see cref="TransportOptions.MaxPendingBytesPerPeer"/>: the rule both
/// transports' counts (<see cref="Native.PeerBacklog"/>, <see cref="NetMQ.NetMqPeerBacklog"/>) share.
/// </summary>
internal static class PendingBytes
{
    /// <summary>Messages smaller than this are not counted: copying them is cheaper than tracking them.</summary>
    public const int TrackedMinimum = 1024;

    /// <summary>Whether a message of <paramref name="frames"/> is counted: its size then, in <paramref name="total"/>.</summary>
    public static bool Counts(ReadOnlySpan<ReadOnlyMemory<byte>> frames, out long total)
    {
        total = 0;
        foreach (var frame in frames)
        {
            total += frame.Length;
        }

        return total >= TrackedMinimum;
    }
}
