using NetMQ;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A receive bounded by a deadline for the whole wait, not per message: for loops that skip what they do not look for
/// (a peer's heartbeats), which a per-message timeout would keep alive for good.
/// </summary>
public static class ReceiveBefore
{
    /// <summary>The next message, if one comes before <paramref name="until"/> (UTC); false once it has passed.</summary>
    public static bool TryReceiveMultipartBytesBefore(this IReceivingSocket socket, DateTime until, ref List<byte[]> frames)
    {
        // Never a negative timeout: NetMQ waits forever on one.
        var left = until - DateTime.UtcNow;
        return left > TimeSpan.Zero && socket.TryReceiveMultipartBytes(left, ref frames);
    }
}
