namespace Courier.Tests.Containers.Infrastructure;

/// <summary>What a story running for several tests saw, with times; each test prints it into its own output.</summary>
public sealed class StoryLog
{
    private readonly System.Text.StringBuilder _text = new();

    public void Line(string line)
    {
        lock (_text)
        {
            _text.AppendLine(line);
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
