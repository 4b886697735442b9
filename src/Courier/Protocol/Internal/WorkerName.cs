using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>
/// A worker's name as it travels to a Courier broker (docs/protocol.md §3) and appears in its logs and 8/MMI answers:
/// printable, at most <see cref="MaxBytes"/> bytes of UTF-8. Worker and broker both apply it, since a broker cannot
/// trust what a worker sends and a log line must not carry a peer's control characters.
/// </summary>
internal static class WorkerName
{
    public const int MaxBytes = 64;

    /// <summary><paramref name="name"/> with what does not print as itself on one line (controls, format characters such as bidi overrides, line separators) as <c>?</c>, cut to whole characters within <see cref="MaxBytes"/>; empty stays empty.</summary>
    public static string Sanitize(string name) => Courier.Internal.LogText.Printable(name.Trim(), MaxBytes);

    /// <summary>A name as received: invalid UTF-8 becomes <c>?</c>, then as <see cref="Sanitize"/>; null when nothing is left.</summary>
    public static string? Decode(ReadOnlySpan<byte> bytes)
    {
        var name = Sanitize(Encoding.UTF8.GetString(bytes[..Math.Min(bytes.Length, MaxBytes * 4)]));
        return name.Length == 0 ? null : name;
    }
}
