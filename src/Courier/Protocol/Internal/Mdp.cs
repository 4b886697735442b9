using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>Frame constants of 7/MDP and Courier's compatible extension. See docs/protocol.md.</summary>
internal static class Mdp
{
    /// <summary>7/MDP client header.</summary>
    public static readonly byte[] ClientHeader = "MDPC01"u8.ToArray();

    /// <summary>7/MDP worker header.</summary>
    public static readonly byte[] WorkerHeader = "MDPW01"u8.ToArray();

    /// <summary>
    /// Courier client header, the first bytes of the one frame that carries header, request id and service (request) or
    /// header, request id and status (reply): three frames fewer each way than 7/MDP's layout, since per-frame work
    /// inside ZeroMQ is the largest cost of a small request.
    /// </summary>
    public static readonly byte[] CourierClientHeader = "CURC02"u8.ToArray();

    /// <summary>Header and request id: the service (request) or status (reply) follows.</summary>
    public const int CourierPrefixLength = 14;

    /// <summary>Length of a Courier reply's header frame: header, request id, three-digit status.</summary>
    public const int CourierReplyHeaderLength = CourierPrefixLength + 3;

    /// <summary>A Courier request's header frame: header, big-endian request id, service name.</summary>
    public static byte[] CourierRequestHeader(ulong id, ReadOnlySpan<byte> service)
    {
        var frame = new byte[CourierPrefixLength + service.Length];
        WriteCourierRequestHeader(frame, id, service);
        return frame;
    }

    /// <summary>Writes the header of <see cref="CourierRequestHeader"/> into <paramref name="frame"/>; returns its length.</summary>
    public static int WriteCourierRequestHeader(Span<byte> frame, ulong id, ReadOnlySpan<byte> service)
    {
        CourierClientHeader.CopyTo(frame);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[CourierClientHeader.Length..], id);
        service.CopyTo(frame[CourierPrefixLength..]);
        return CourierPrefixLength + service.Length;
    }

    /// <summary>A Courier reply's header frame, echoing the request id of <paramref name="requestHeader"/> (zeros if it has none).</summary>
    public static byte[] CourierReplyHeader(ReadOnlySpan<byte> requestHeader, int status)
    {
        var frame = new byte[CourierReplyHeaderLength];
        WriteCourierReplyHeader(frame, requestHeader, status);
        return frame;
    }

    /// <summary>Writes the reply header of <see cref="CourierReplyHeader"/> into <paramref name="frame"/> (<see cref="CourierReplyHeaderLength"/> bytes).</summary>
    public static void WriteCourierReplyHeader(Span<byte> frame, ulong id, int status)
    {
        CourierClientHeader.CopyTo(frame);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame[CourierClientHeader.Length..], id);
        StatusFrame(status).CopyTo(frame[CourierPrefixLength..]);
    }

    /// <summary>Writes the reply header of <see cref="CourierReplyHeader"/> into <paramref name="frame"/> (<see cref="CourierReplyHeaderLength"/> bytes).</summary>
    public static void WriteCourierReplyHeader(Span<byte> frame, ReadOnlySpan<byte> requestHeader, int status)
    {
        CourierClientHeader.CopyTo(frame);
        if (requestHeader.Length >= CourierPrefixLength)
        {
            requestHeader[CourierClientHeader.Length..CourierPrefixLength].CopyTo(frame[CourierClientHeader.Length..]);
        }
        else
        {
            frame[CourierClientHeader.Length..CourierPrefixLength].Clear();
        }

        StatusFrame(status).CopyTo(frame[CourierPrefixLength..]);
    }

    /// <summary>True when <paramref name="frame"/> starts with the Courier client header.</summary>
    public static bool IsCourierHeader(ReadOnlySpan<byte> frame) => frame.StartsWith(CourierClientHeader);

    public const int MaxServiceNameLength = 255;

    public static readonly byte[] Empty = [];

    public static byte[] StatusFrame(int status) => status switch
    {
        CourierStatus.Ok => StatusOk,
        _ => Encoding.ASCII.GetBytes(status.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    };

    private static readonly byte[] StatusOk = "200"u8.ToArray();

    /// <summary>Parses a three-digit ASCII status frame; -1 when it is not one.</summary>
    public static int ParseStatus(ReadOnlySpan<byte> frame)
    {
        if (frame.Length != 3)
        {
            return -1;
        }

        var value = 0;
        foreach (var b in frame)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return -1;
            }

            value = (value * 10) + (b - '0');
        }

        return value;
    }

    /// <summary>
    /// Decodes a service name: printable ASCII/UTF-8, 1-255 bytes, as 7/MDP leaves it to implementations.
    /// Returns null when it is not a usable name.
    /// </summary>
    public static string? DecodeServiceName(ReadOnlySpan<byte> frame)
    {
        if (frame.IsEmpty || frame.Length > MaxServiceNameLength)
        {
            return null;
        }

        foreach (var b in frame)
        {
            if (b < 0x20 || b == 0x7F)
            {
                return null;
            }
        }

        try
        {
            return StrictUtf8.GetString(frame);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
