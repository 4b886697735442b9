using System.Buffers.Binary;

namespace Courier.Protocol.Internal;

/// <summary>
/// Courier's client framing from courier/5 on (docs/protocol.md §8): one header frame <c>"CURC05"</c> ‖ kind ‖ …, a
/// request carrying identity, attempt, flags, deadline budget and headers; a reply carrying headers (a reply without
/// any keeps the 17-byte <c>"CURC02"</c> form); and CANCEL, a request's caller giving up.
/// </summary>
internal static class CourierFrame5
{
    public static readonly byte[] Header = "CURC05"u8.ToArray();

    public const byte Request = 0x01;
    public const byte Reply = 0x02;
    public const byte Cancel = 0x03;

    /// <summary>Header, kind, request id, client id, attempt, flags, budget, service length: the service follows.</summary>
    public const int RequestFixedLength = 38;

    /// <summary>The longest request header frame: fixed part, a 255-byte service, the largest header block.</summary>
    public const int MaxRequestLength = RequestFixedLength + Mdp.MaxServiceNameLength + HeaderBlock.MaxBlockLength;

    /// <summary>Header, kind, request id, status: the header block follows.</summary>
    public const int ReplyFixedLength = 18;

    /// <summary>Header, kind, request id, client id.</summary>
    public const int CancelLength = 31;

    public static bool Is(ReadOnlySpan<byte> frame, byte kind) => frame.Length > 6 && frame[6] == kind && frame.StartsWith(Header);

    /// <summary>Writes a request header frame into <paramref name="frame"/>; returns its length.</summary>
    public static int WriteRequest(
        Span<byte> frame, ulong id, ClientIdentity client, byte attempt, DeliveryFlags flags, uint budgetMs, ReadOnlySpan<byte> service, ReadOnlySpan<byte> headers)
    {
        Header.CopyTo(frame);
        frame[6] = Request;
        BinaryPrimitives.WriteUInt64BigEndian(frame[7..], id);
        client.Write(frame[15..]);
        Delivery.WriteFixed(frame[31..], attempt, flags, budgetMs);
        frame[37] = (byte)service.Length;
        service.CopyTo(frame[RequestFixedLength..]);
        headers.CopyTo(frame[(RequestFixedLength + service.Length)..]);
        return RequestFixedLength + service.Length + headers.Length;
    }

    /// <summary>
    /// Reads a request header frame (<paramref name="frame"/> is its memory, so that headers are a slice of it). False
    /// when it is cut short; the id is read whenever the frame holds one, to address the 400.
    /// </summary>
    public static bool TryReadRequest(ReadOnlyMemory<byte> frame, out ulong id, out Delivery delivery, out ReadOnlyMemory<byte> service)
    {
        var span = frame.Span;
        id = span.Length >= 15 ? BinaryPrimitives.ReadUInt64BigEndian(span[7..]) : 0;
        delivery = default;
        service = default;
        if (span.Length < RequestFixedLength || span.Length < RequestFixedLength + span[37])
        {
            return false;
        }

        var serviceLength = span[37];
        service = frame.Slice(RequestFixedLength, serviceLength);
        delivery = new Delivery(
            ClientIdentity.Read(span[15..]), span[31], (DeliveryFlags)span[32], BinaryPrimitives.ReadUInt32BigEndian(span[33..]),
            frame[(RequestFixedLength + serviceLength)..]);
        return true;
    }

    /// <summary>Writes a reply header frame with headers into <paramref name="frame"/>; returns its length.</summary>
    public static int WriteReply(Span<byte> frame, ulong id, int status, ReadOnlySpan<byte> headers)
    {
        Header.CopyTo(frame);
        frame[6] = Reply;
        BinaryPrimitives.WriteUInt64BigEndian(frame[7..], id);
        StatusFrames.Of(status).CopyTo(frame[15..]);
        headers.CopyTo(frame[ReplyFixedLength..]);
        return ReplyFixedLength + headers.Length;
    }

    /// <summary>A CANCEL frame: the caller of request <paramref name="id"/> of <paramref name="client"/> gave up.</summary>
    public static byte[] CancelFrame(ulong id, ClientIdentity client)
    {
        var frame = new byte[CancelLength];
        Header.CopyTo(frame, 0);
        frame[6] = Cancel;
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        client.Write(frame.AsSpan(15));
        return frame;
    }

    public static RequestKey ReadCancel(ReadOnlySpan<byte> frame)
        => new(ClientIdentity.Read(frame[15..]), BinaryPrimitives.ReadUInt64BigEndian(frame[7..]));
}
