using System.Globalization;
using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>
/// Courier's worker framing (docs/protocol.md §5), between a Courier broker and a Courier worker: the READY capability
/// frame (<c>courier/2 capacity=N</c>) and the one-frame <c>"CURW02"</c> REQUEST and REPLY headers.
/// </summary>
internal static class CourierWorkerFrame
{
    private const string CapabilityPrefix = ProtocolVersions.WorkerCapability2;

    // A worker that also takes and sends batches (docs/protocol.md §6) says so with the version of its READY frame.
    private const string BatchCapabilityPrefix = ProtocolVersions.WorkerCapability3;

    /// <summary>
    /// Header of a Courier REQUEST or REPLY between a Courier broker and a Courier worker: one frame carrying header,
    /// command, token (and, in a REPLY, the status) in place of 7/MDP's four or five.
    /// </summary>
    public static readonly byte[] Header = "CURW02"u8.ToArray();

    /// <summary>Header, command byte, 8-byte token.</summary>
    public const int RequestLength = 15;

    /// <summary>Header, command byte, 8-byte token, three-digit status.</summary>
    public const int ReplyLength = 18;

    /// <summary>A Courier REQUEST header: <c>"CURW02"</c>, <c>0x02</c>, the big-endian token.</summary>
    public static byte[] Request(ulong token)
    {
        var frame = new byte[RequestLength];
        WriteRequest(frame, token);
        return frame;
    }

    /// <summary>Writes a Courier REQUEST header into <paramref name="frame"/> (<see cref="RequestLength"/> bytes).</summary>
    public static void WriteRequest(Span<byte> frame, ulong token)
    {
        Header.CopyTo(frame);
        frame[6] = MdpWorker.Request;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[7..], token);
    }

    /// <summary>The Courier REPLY header answering <paramref name="request"/> (a Courier REQUEST header) with <paramref name="status"/>.</summary>
    public static byte[] Reply(ReadOnlySpan<byte> request, int status)
    {
        var frame = new byte[ReplyLength];
        WriteReply(frame, request, status);
        return frame;
    }

    /// <summary>Writes the header of <see cref="Reply"/> into <paramref name="frame"/> (<see cref="ReplyLength"/> bytes).</summary>
    public static void WriteReply(Span<byte> frame, ulong token, int status)
    {
        Header.CopyTo(frame);
        frame[6] = MdpWorker.Reply;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[7..], token);
        StatusFrames.Of(status).CopyTo(frame[15..]);
    }

    /// <summary>Writes the header of <see cref="Reply"/> into <paramref name="frame"/> (<see cref="ReplyLength"/> bytes).</summary>
    public static void WriteReply(Span<byte> frame, ReadOnlySpan<byte> request, int status)
    {
        Header.CopyTo(frame);
        frame[6] = MdpWorker.Reply;
        request.Slice(7, 8).CopyTo(frame[7..]);
        StatusFrames.Of(status).CopyTo(frame[15..]);
    }

    /// <summary>True when <paramref name="frame"/> is a Courier header of <paramref name="length"/> bytes for <paramref name="command"/>.</summary>
    public static bool Is(ReadOnlySpan<byte> frame, byte command, int length)
        => frame.Length == length && frame[6] == command && frame.StartsWith(Header);

    /// <summary>
    /// The extra READY frame a Courier worker sends a Courier broker: it takes up to N requests at once, and REQUEST and
    /// REPLY between them use the one-frame Courier header.
    /// </summary>
    public static byte[] Capability(int capacity, bool batches = false)
        => Encoding.ASCII.GetBytes((batches ? BatchCapabilityPrefix : CapabilityPrefix) + capacity.ToString(CultureInfo.InvariantCulture));

    /// <summary>Parses the capability frame; 0 when it is not one. <paramref name="batches"/>: the worker takes batches.</summary>
    public static int ParseCapability(ReadOnlySpan<byte> frame, out bool batches)
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
