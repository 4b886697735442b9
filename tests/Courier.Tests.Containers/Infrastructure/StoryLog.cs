namespace Courier.Tests.Containers.Infrastructure;

/// <summary>
/// What a story running for several tests saw, each line stamped with the seconds since the collection started (so a
/// run shows where its minutes go); each test prints it into its own output.
/// </summary>
public sealed class StoryLog
{
    private readonly System.Text.StringBuilder _text = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public void Line(string line)
    {
        lock (_text)
        {
            _text.Append(System.Globalization.CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,6:F1} s] ").AppendLine(line);
        }
    }

    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }
}
