using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;

namespace Courier.Tests;

/// <summary>README starts with the two commands that do all the set-up on a fresh machine, and CI runs the second.</summary>
public sealed partial class ReadmeCommandsTests
{
    [Fact]
    public void Readme_starts_with_the_demo_and_the_test_command_and_ci_runs_that_test_command()
    {
        var readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));
        var commands = FirstShellBlock().Match(readme).Groups[1].Value.Split('\n')
            .Select(line => line.Split('#')[0].Trim())
            .Where(line => line.Length > 0)
            .ToArray();
        Assert.Equal(["dotnet run --project src/Courier.Cli -- demo", "./test.sh"], commands);

        var ci = File.ReadAllLines(Path.Combine(Repo.Root, ".ci", "run")).Select(l => l.Trim());
        Assert.Contains(commands[1], ci);
    }

    [GeneratedRegex(@"```sh\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex FirstShellBlock();
}
