using System.Text;

namespace Courier.Internal;

/// <summary>A peer's bytes as a log line shows them: a few, never all (a peer chooses how many it sends).</summary>
internal static class LogText
{
    /// <summary>Bytes shown by <see cref="Hex"/>.</summary>
    public const int HexBytes = 16;

    /// <summary><c>0x</c> and the first <see cref="HexBytes"/> bytes in hex, then the length when there are more.</summary>
    public static string Hex(ReadOnlySpan<byte> bytes) => bytes.Length <= HexBytes
        ? "0x" + Convert.ToHexString(bytes)
        : $"0x{Convert.ToHexString(bytes[..HexBytes])}… ({bytes.Length} bytes)";

    /// <summary>Bytes of UTF-8 of a peer's text that <see cref="Line(string)"/> keeps.</summary>
    public const int LineBytes = 256;

    /// <summary>
    /// A peer's text for one log line: what does not print as itself on one line (controls, format characters such as
    /// bidi overrides, line separators) as <c>?</c>, cut to whole characters within <see cref="LineBytes"/>, and the
    /// size of the whole in UTF-8 when cut.
    /// </summary>
    public static string Line(string text) => Line(text, LineBytes);

    /// <summary>As <see cref="Line(string)"/>, within <paramref name="maxBytes"/>.</summary>
    public static string Line(string text, int maxBytes)
    {
        var printable = Printable(text, maxBytes, out var cut);
        return cut ? $"{printable}… ({Encoding.UTF8.GetByteCount(text)} bytes)" : printable;
    }

    /// <summary><paramref name="text"/> with what does not print as itself on one line as <c>?</c>, cut to whole characters within <paramref name="maxBytes"/> of UTF-8.</summary>
    public static string Printable(string text, int maxBytes) => Printable(text, maxBytes, out _);

    private static string Printable(string text, int maxBytes, out bool cut)
    {
        var builder = new StringBuilder(Math.Min(text.Length, maxBytes));
        var bytes = 0;
        cut = false;
        foreach (var rune in text.EnumerateRunes())
        {
            var printable = !Protocol.Internal.Mdp.IsPrintable(rune) || rune == Rune.ReplacementChar ? new Rune('?') : rune;
            bytes += printable.Utf8SequenceLength;
            if (bytes > maxBytes)
            {
                cut = true;
                break;
            }

            builder.Append(printable.ToString());
        }

        return builder.ToString();
    }
}
