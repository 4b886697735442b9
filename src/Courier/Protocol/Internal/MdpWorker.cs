using System.Globalization;
using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>7/MDP worker commands and Courier's READY extension (see docs/protocol.md).</summary>
internal static class MdpWorker
{
    public const byte Ready = 0x01;
    public const byte Request = 0x02;
    public const byte Reply = 0x03;
    public const byte Heartbeat = 0x04;
    public const byte Disconnect = 0x05;

    public static readonly byte[] ReadyFrame = [Ready];
    public static readonly byte[] RequestFrame = [Request];
    public static readonly byte[] ReplyFrame = [Reply];
    public static readonly byte[] HeartbeatFrame = [Heartbeat];
    public static readonly byte[] DisconnectFrame = [Disconnect];

    private const string CapabilityPrefix = "courier/1 capacity=";

    /// <summary>The extra READY frame a Courier worker sends a Courier broker: it speaks Courier and takes up to N requests at once.</summary>
    public static byte[] CapabilityFrame(int capacity)
        => Encoding.ASCII.GetBytes(CapabilityPrefix + capacity.ToString(CultureInfo.InvariantCulture));

    /// <summary>Parses the capability frame; 0 when it is not one.</summary>
    public static int ParseCapacity(ReadOnlySpan<byte> frame)
    {
        var text = Encoding.ASCII.GetString(frame);
        return text.StartsWith(CapabilityPrefix, StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(CapabilityPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var capacity)
            && capacity > 0
            ? capacity
            : 0;
    }
}
