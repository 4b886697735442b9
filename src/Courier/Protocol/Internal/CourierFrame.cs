namespace Courier.Protocol.Internal;

/// <summary>
/// Courier's client framing (docs/protocol.md §4): the one frame <c>"CURC02"</c> + request id + service (request) or +
/// status (reply) that stands for 7/MDP's header and service frames, negotiated by <see cref="Negotiation"/>.
/// </summary>
internal static class CourierFrame
{
    /// <summary>
    /// Courier client header, the first bytes of the one frame that carries header, request id and service (request) or
    /// header, request id and status (reply): three frames fewer each way than 7/MDP's layout, since per-frame work
    /// inside ZeroMQ is the largest cost of a small request.
    /// </summary>
    public static readonly byte[] Header = "CURC02"u8.ToArray();

    /// <summary>Header and request id: the service (request) or status (reply) follows.</summary>
    public const int PrefixLength = 14;

    /// <summary>Length of a Courier reply's header frame: header, request id, three-digit status.</summary>
    public const int ReplyLength = PrefixLength + 3;

    /// <summary>A Courier request's header frame: header, big-endian request id, service name.</summary>
    public static byte[] Request(ulong id, ReadOnlySpan<byte> service)
    {
        var frame = new byte[PrefixLength + service.Length];
        WriteRequest(frame, id, service);
        return frame;
    }

    /// <summary>Writes the header of <see cref="Request"/> into <paramref name="frame"/>; returns its length.</summary>
    public static int WriteRequest(Span<byte> frame, ulong id, ReadOnlySpan<byte> service)
    {
        Header.CopyTo(frame);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[Header.Length..], id);
        service.CopyTo(frame[PrefixLength..]);
        return PrefixLength + service.Length;
    }

    /// <summary>Writes a reply header (header, request id, three-digit status) into <paramref name="frame"/> (<see cref="ReplyLength"/> bytes).</summary>
    public static void WriteReply(Span<byte> frame, ulong id, int status)
    {
        Header.CopyTo(frame);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[Header.Length..], id);
        StatusFrames.Of(status).CopyTo(frame[PrefixLength..]);
    }

    /// <summary>True when <paramref name="frame"/> starts with the Courier client header.</summary>
    public static bool Is(ReadOnlySpan<byte> frame) => frame.StartsWith(Header);
}
