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

    private const string CapabilityPrefix = ProtocolVersions.WorkerCapability2;

    // A worker that also takes and sends batches (docs/protocol.md §6) says so with the version of its READY frame.
    private const string BatchCapabilityPrefix = ProtocolVersions.WorkerCapability3;

    /// <summary>
    /// Header of a Courier REQUEST or REPLY between a Courier broker and a Courier worker: one frame carrying header,
    /// command, token (and, in a REPLY, the status) in place of 7/MDP's four or five.
    /// </summary>
    public static readonly byte[] CourierHeader = "CURW02"u8.ToArray();

    /// <summary>Header, command byte, 8-byte token.</summary>
    public const int CourierRequestLength = 15;

    /// <summary>Header, command byte, 8-byte token, three-digit status.</summary>
    public const int CourierReplyLength = 18;

    /// <summary>A Courier REQUEST header: <c>"CURW02"</c>, <c>0x02</c>, the big-endian token.</summary>
    public static byte[] CourierRequest(ulong token)
    {
        var frame = new byte[CourierRequestLength];
        WriteCourierRequest(frame, token);
        return frame;
    }

    /// <summary>Writes a Courier REQUEST header into <paramref name="frame"/> (<see cref="CourierRequestLength"/> bytes).</summary>
    public static void WriteCourierRequest(Span<byte> frame, ulong token)
    {
        CourierHeader.CopyTo(frame);
        frame[6] = Request;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[7..], token);
    }

    /// <summary>The Courier REPLY header answering <paramref name="request"/> (a Courier REQUEST header) with <paramref name="status"/>.</summary>
    public static byte[] CourierReply(ReadOnlySpan<byte> request, int status)
    {
        var frame = new byte[CourierReplyLength];
        WriteCourierReply(frame, request, status);
        return frame;
    }

    /// <summary>Writes the header of <see cref="CourierReply"/> into <paramref name="frame"/> (<see cref="CourierReplyLength"/> bytes).</summary>
    public static void WriteCourierReply(Span<byte> frame, ulong token, int status)
    {
        CourierHeader.CopyTo(frame);
        frame[6] = Reply;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[7..], token);
        Mdp.StatusFrame(status).CopyTo(frame[15..]);
    }

    /// <summary>Writes the header of <see cref="CourierReply"/> into <paramref name="frame"/> (<see cref="CourierReplyLength"/> bytes).</summary>
    public static void WriteCourierReply(Span<byte> frame, ReadOnlySpan<byte> request, int status)
    {
        CourierHeader.CopyTo(frame);
        frame[6] = Reply;
        request.Slice(7, 8).CopyTo(frame[7..]);
        Mdp.StatusFrame(status).CopyTo(frame[15..]);
    }

    /// <summary>True when <paramref name="frame"/> is a Courier header of <paramref name="length"/> bytes for <paramref name="command"/>.</summary>
    public static bool IsCourier(ReadOnlySpan<byte> frame, byte command, int length)
        => frame.Length == length && frame[6] == command && frame.StartsWith(CourierHeader);

    /// <summary>
    /// The extra READY frame a Courier worker sends a Courier broker: it takes up to N requests at once, and REQUEST and
    /// REPLY between them use the one-frame Courier header.
    /// </summary>
    public static byte[] CapabilityFrame(int capacity, bool batches = false)
        => Encoding.ASCII.GetBytes((batches ? BatchCapabilityPrefix : CapabilityPrefix) + capacity.ToString(CultureInfo.InvariantCulture));

    /// <summary>Parses the capability frame; 0 when it is not one. <paramref name="batches"/>: the worker takes batches.</summary>
    public static int ParseCapacity(ReadOnlySpan<byte> frame, out bool batches)
    {
        var text = Encoding.ASCII.GetString(frame);
        batches = text.StartsWith(BatchCapabilityPrefix, StringComparison.Ordinal);
        var prefix = batches ? BatchCapabilityPrefix : CapabilityPrefix;
        return text.StartsWith(prefix, StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var capacity)
            && capacity > 0
            ? capacity
            : 0;
    }
}
