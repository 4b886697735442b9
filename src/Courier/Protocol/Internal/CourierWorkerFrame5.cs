using System.Buffers.Binary;

namespace Courier.Protocol.Internal;

/// <summary>
/// Courier's worker framing from courier/5 on (docs/protocol.md §8), between a Courier broker and a worker that
/// registered with <c>courier/5</c>: REQUEST carries the remaining budget and the headers; REPLY with headers (one
/// without keeps the 18-byte <c>"CURW02"</c> form); CANCEL, the broker telling a worker a request's caller gave up.
/// </summary>
internal static class CourierWorkerFrame5
{
    public static readonly byte[] Header = "CURW05"u8.ToArray();

    /// <summary>Not a 7/MDP command (those are 0x01-0x05): the broker cancels a request it gave the worker.</summary>
    public const byte Cancel = 0x06;

    /// <summary>Header, command, token, budget, service length: the service follows, then the header block.</summary>
    public const int RequestFixedLength = 20;

    public const int MaxRequestLength = RequestFixedLength + Mdp.MaxServiceNameLength + HeaderBlock.MaxBlockLength;

    /// <summary>Header, command, token, status: the header block follows.</summary>
    public const int ReplyFixedLength = 18;

    public const int CancelLength = 15;

    public static bool Is(ReadOnlySpan<byte> frame, byte command) => frame.Length > 6 && frame[6] == command && frame.StartsWith(Header);

    public static int WriteRequest(Span<byte> frame, ulong token, uint budgetMs, ReadOnlySpan<byte> service, ReadOnlySpan<byte> headers)
    {
        Header.CopyTo(frame);
        frame[6] = MdpWorker.Request;
        BinaryPrimitives.WriteUInt64BigEndian(frame[7..], token);
        BinaryPrimitives.WriteUInt32BigEndian(frame[15..], budgetMs);
        frame[19] = (byte)service.Length;
        service.CopyTo(frame[RequestFixedLength..]);
        headers.CopyTo(frame[(RequestFixedLength + service.Length)..]);
        return RequestFixedLength + service.Length + headers.Length;
    }

    /// <summary>Reads a REQUEST header frame; false when it is cut short.</summary>
    public static bool TryReadRequest(ReadOnlySpan<byte> frame, out ulong token, out uint budgetMs, out ReadOnlySpan<byte> service, out ReadOnlySpan<byte> headers)
    {
        token = 0;
        budgetMs = 0;
        service = default;
        headers = default;
        if (frame.Length < RequestFixedLength || frame.Length < RequestFixedLength + frame[19])
        {
            return false;
        }

        token = BinaryPrimitives.ReadUInt64BigEndian(frame[7..]);
        budgetMs = BinaryPrimitives.ReadUInt32BigEndian(frame[15..]);
        service = frame.Slice(RequestFixedLength, frame[19]);
        headers = frame[(RequestFixedLength + frame[19])..];
        return true;
    }

    public static int WriteReply(Span<byte> frame, ulong token, int status, ReadOnlySpan<byte> headers)
    {
        Header.CopyTo(frame);
        frame[6] = MdpWorker.Reply;
        BinaryPrimitives.WriteUInt64BigEndian(frame[7..], token);
        StatusFrames.Of(status).CopyTo(frame[15..]);
        headers.CopyTo(frame[ReplyFixedLength..]);
        return ReplyFixedLength + headers.Length;
    }

    public static byte[] CancelFrame(ulong token)
    {
        var frame = new byte[CancelLength];
        Header.CopyTo(frame, 0);
        frame[6] = Cancel;
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), token);
        return frame;
    }
}
