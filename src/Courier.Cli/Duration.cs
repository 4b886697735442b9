using System.Globalization;

namespace Courier.Cli;

/// <summary>Durations as people write them: <c>500ms</c>, <c>2.5s</c>, <c>1m</c>, <c>1h</c>, <c>250us</c>; a bare number is seconds.</summary>
internal static class Duration
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim();
        (string suffix, double scale)[] units = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, scale) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && TryNumber(text[..^suffix.Length], out var number))
            {
                value = TimeSpan.FromSeconds(number * scale);
                return true;
            }
        }

        if (TryNumber(text, out var seconds))
        {
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }

        return false;
    }

    public static string Format(TimeSpan value) => value.TotalSeconds >= 1
        ? value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s"
        : value.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";

    private static bool TryNumber(string text, out double number)
        => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out number) && number >= 0 && double.IsFinite(number);
}
