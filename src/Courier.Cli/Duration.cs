using System.Globalization;

namespace Courier.Cli;

/// <summary>
/// Durations as people write them: <c>250us</c>, <c>500ms</c>, <c>2.5s</c>, <c>1m</c>, <c>1h</c>. A bare number is
/// refused, except 0: <c>--timeout 500</c> could mean 500 ms or 500 s, and guessing wrong fails much later.
/// </summary>
internal static class Duration
{
    /// <summary>The syntax, stated once in every help page.</summary>
    public const string Syntax = "Durations are a number and a unit: 250us, 500ms, 2.5s, 1m, 1h. A bare number is refused, except 0.";

    /// <summary>Largest first, the order <see cref="Format"/> tries them in.</summary>
    private static readonly (string Suffix, TimeSpan Unit)[] Units =
    [
        ("h", TimeSpan.FromHours(1)),
        ("m", TimeSpan.FromMinutes(1)),
        ("s", TimeSpan.FromSeconds(1)),
        ("ms", TimeSpan.FromMilliseconds(1)),
        ("us", TimeSpan.FromMicroseconds(1)),
    ];

    /// <summary>More than anyone means, and far below what timers and <see cref="TimeSpan"/> can hold.</summary>
    private static readonly TimeSpan Ceiling = TimeSpan.FromDays(365);

    public static bool TryParse(string text, out TimeSpan value) => TryParse(text, out value, out _);

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong and how to write it.</summary>
    public static bool TryParse(string text, out TimeSpan value, out string error)
    {
        value = default;
        text = text.Trim();
        foreach (var (suffix, unit) in Units)
        {
            // The digit before the suffix tells "500ms" (not "500m" + "s") and "250us" apart from seconds.
            if (text.Length > suffix.Length
                && text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && char.IsAsciiDigit(text[^(suffix.Length + 1)]))
            {
                return TryScale(text, text[..^suffix.Length], unit, out value, out error);
            }
        }

        if (TryNumber(text, out var bare) && bare == 0)
        {
            error = "";
            return true;
        }

        error = TryNumber(text, out _)
            ? $"'{text}' has no unit; write {text}ms or {text}s"
            : $"'{text}' is not a duration; write it like 500ms, 2.5s or 1m";
        return false;
    }

    /// <summary>The way it would be typed: <c>2.5s</c>, <c>500ms</c>, <c>1m</c>, <c>90s</c>, <c>0s</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        // Minutes and hours only when whole (90s, not 1.5m); seconds and below with up to three decimals (2.5s).
        foreach (var (suffix, unit) in Units)
        {
            var remainder = value.Ticks % unit.Ticks;
            if (value >= unit && (remainder == 0 || (unit < TimeSpan.FromMinutes(1) && remainder * 1000 % unit.Ticks == 0)))
            {
                return ((decimal)value.Ticks / unit.Ticks).ToString("0.###", CultureInfo.InvariantCulture) + suffix;
            }
        }

        return value.TotalMicroseconds.ToString("0.#", CultureInfo.InvariantCulture) + "us";
    }

    private static bool TryScale(string text, string number, TimeSpan unit, out TimeSpan value, out string error)
    {
        value = default;
        if (!TryNumber(number, out var count))
        {
            error = number.TrimStart().StartsWith('-')
                ? $"'{text}' is negative"
                : $"'{text}' is not a duration; write it like 500ms, 2.5s or 1m";
            return false;
        }

        if (count * unit.TotalSeconds > Ceiling.TotalSeconds)
        {
            error = $"'{text}' is too long; at most {Format(Ceiling)}";
            return false;
        }

        value = TimeSpan.FromTicks((long)Math.Round(count * unit.Ticks));
        error = "";
        return true;
    }

    private static bool TryNumber(string text, out double number)
        => double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number) && double.IsFinite(number);
}
