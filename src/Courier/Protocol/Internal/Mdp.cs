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
    /// characters (C0, DEL, C1), no format characters (bidirectional overrides, zero-width ones, joiners included) and
    /// no line or paragraph separators, which would make one name print as another in logs, or break a log line. Returns null when it is not a usable name. Invalid UTF-8 is found
    /// without an exception: a batch of bad names must cost what a batch of unknown ones does.
    /// </summary>
    public static string? DecodeServiceName(ReadOnlySpan<byte> frame)
    {
        if (frame.IsEmpty || frame.Length > MaxServiceNameLength || !System.Text.Unicode.Utf8.IsValid(frame))
        {
            return null;
        }

        for (var rest = frame; !rest.IsEmpty;)
        {
            Rune.DecodeFromUtf8(rest, out var rune, out var consumed);
            if (!IsPrintable(rune))
            {
                return null;
            }

            rest = rest[consumed..];
        }

        return Encoding.UTF8.GetString(frame);
    }

    /// <summary>Whether <paramref name="rune"/> may be part of a name that prints as itself on one line.</summary>
    internal static bool IsPrintable(Rune rune) => !Rune.IsControl(rune) && Rune.GetUnicodeCategory(rune) is not (
        System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator);
}
