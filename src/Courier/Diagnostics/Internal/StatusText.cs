using System.Globalization;

namespace Courier.Diagnostics.Internal;

/// <summary>Status codes as the strings tags carry, made once: a tag must not allocate per request.</summary>
internal static class StatusText
{
    private static readonly string[] Codes = [.. Enumerable.Range(0, 600).Select(c => c.ToString(CultureInfo.InvariantCulture))];

    /// <summary>"200", "404", …; "invalid" for what is not a status.</summary>
    public static string Of(int status) => (uint)status < Codes.Length ? Codes[status] : "invalid";
}
