using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>7/MDP's frames (docs/protocol.md §1–2): the client and worker headers, the delimiter, service names.</summary>
internal static class Mdp
{
    /// <summary>7/MDP client header.</summary>
    public static readonly byte[] ClientHeader = "MDPC01"u8.ToArray();

    /// <summary>7/MDP worker header.</summary>
    public static readonly byte[] WorkerHeader = "MDPW01"u8.ToArray();

    public const int MaxServiceNameLength = 255;

    public static readonly byte[] Empty = [];

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
