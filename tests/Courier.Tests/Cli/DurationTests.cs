using Courier.Cli;

namespace Courier.Tests.Cli;

public sealed class DurationTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2.5s", 2500)]
    [InlineData("1m", 60_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("250us", 0.25)]
    [InlineData("0", 0)]
    [InlineData("0ms", 0)]
    public void Parses_durations_as_people_write_them(string text, double milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var value));
        Assert.Equal(milliseconds, value.TotalMilliseconds, 6);
    }

    [Theory]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("-1s")]
    [InlineData("1.5.2s")]
    [InlineData("NaNs")]
    [InlineData("Infinitys")]
    [InlineData("1e3s")]
    [InlineData("ms")]
    [InlineData("100000000h")]
    public void Rejects_what_is_not_a_duration(string text)
    {
        Assert.False(Duration.TryParse(text, out _));
    }

    [Theory]
    [InlineData("500")]
    [InlineData("2.5")]
    public void A_bare_number_other_than_0_is_refused_with_both_readings_offered(string text)
    {
        Assert.False(Duration.TryParse(text, out _, out var error));
        Assert.Equal($"'{text}' has no unit; write {text}ms or {text}s", error);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(2500, "2.5s")]
    [InlineData(500, "500ms")]
    [InlineData(60_000, "1m")]
    [InlineData(90_000, "90s")]
    [InlineData(3_600_000, "1h")]
    [InlineData(5_400_000, "90m")]
    [InlineData(0.25, "250us")]
    [InlineData(1000.5, "1000.5ms")]
    public void Formats_a_duration_the_way_it_is_typed(double milliseconds, string expected)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds);

        Assert.Equal(expected, Duration.Format(value));
        Assert.True(Duration.TryParse(expected, out var parsed));
        Assert.Equal(value, parsed);
    }
}
