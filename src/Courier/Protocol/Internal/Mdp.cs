using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>Frame constants of 7/MDP and Courier's compatible extension. See docs/protocol.md.</summary>
internal static class Mdp
{
    /// <summary>7/MDP client header.</summary>
    public static readonly byte[] ClientHeader = "MDPC01"u8.ToArray();

    /// <summary>7/MDP worker header.</summary>
    public static readonly byte[] WorkerHeader = "MDPW01"u8.ToArray();

    /// <summary>Courier client header: 7/MDP client framing plus a status frame in every reply.</summary>
    public static readonly byte[] CourierClientHeader = "CURC01"u8.ToArray();

    /// <summary>The MMI service a Courier client asks, in plain 7/MDP, whether its peer speaks Courier.</summary>
    public const string ProbeService = "mmi.courier";

    public static readonly byte[] ProbeServiceBytes = Encoding.ASCII.GetBytes(ProbeService);

    /// <summary>Body of a Courier peer's answer to the probe (after the "200" status frame).</summary>
    public static readonly byte[] ProbeAnswer = "courier/1"u8.ToArray();

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
