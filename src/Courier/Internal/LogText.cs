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
}
