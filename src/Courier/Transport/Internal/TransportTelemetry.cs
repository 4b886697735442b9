using Courier.Diagnostics.Internal;

namespace Courier.Transport.Internal;

/// <summary><c>courier.transport.sent</c> and <c>courier.transport.received</c>: frame bytes, by role. Nothing is summed unless a listener asks.</summary>
internal static class TransportTelemetry
{
    public static void Sent(ReadOnlySpan<ReadOnlyMemory<byte>> frames, string role)
    {
        if (!CourierMetrics.SentBytes.Enabled)
        {
            return;
        }

        long bytes = 0;
        foreach (var frame in frames)
        {
            bytes += frame.Length;
        }

        CourierMetrics.SentBytes.Add(bytes, new KeyValuePair<string, object?>(CourierMetrics.RoleTag, role));
    }

    public static void Received(MessageFrames message, string loop)
    {
        if (!CourierMetrics.ReceivedBytes.Enabled)
        {
            return;
        }

        CourierMetrics.ReceivedBytes.Add(message.TotalLength, new KeyValuePair<string, object?>(CourierMetrics.RoleTag, TelemetryRole.OfLoop(loop)));
    }
}
