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
    /// Decodes a service name: printable UTF-8, 1-255 bytes, as 7/MDP leaves it to implementations: no control
    /// characters (C0, DEL, C1) and no format characters (bidirectional overrides, zero-width joiners), which would
    /// make one name print as another in logs. Returns null when it is not a usable name. Invalid UTF-8 is found
    /// without an exception: a batch of bad names must cost what a batch of unknown ones does.
    /// </summary>
    public static string? DecodeServiceName(ReadOnlySpan<byte> frame)
    {
        if (frame.IsEmpty || frame.Length > MaxServiceNameLength || !System.Text.Unicode.Utf8.IsValid(frame))
        {
            return null;
        }

        var name = Encoding.UTF8.GetString(frame);
        foreach (var rune in name.EnumerateRunes())
        {
            if (Rune.IsControl(rune) || Rune.GetUnicodeCategory(rune) == System.Globalization.UnicodeCategory.Format)
            {
                return null;
            }
        }

        return name;
    }
}
