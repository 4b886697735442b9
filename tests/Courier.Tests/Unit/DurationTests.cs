using Courier.Cli;

namespace Courier.Tests.Unit;

public sealed class DurationTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2.5s", 2500)]
    [InlineData("1m", 60_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("250us", 0.25)]
    [InlineData("3", 3000)]
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
    public void Rejects_what_is_not_a_duration(string text)
    {
        Assert.False(Duration.TryParse(text, out _));
    }
}
