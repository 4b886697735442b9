using System.Diagnostics;
using System.Text;

namespace Courier.Tests.Packaging;

/// <summary>Runs <c>dotnet</c> (or another program) to completion, or starts it and reads its output as it comes.</summary>
internal static class Dotnet
{
    /// <summary>The checkout's root (the folder holding Courier.slnx).</summary>
    public static string RepoRoot { get; } = FindRoot();

    public static async Task<string> RunAsync(string workingDirectory, TimeSpan timeout, string file, params string[] args)
    {
        using var process = Start(workingDirectory, file, args, environment: null);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}:\n{await stdout}\n{await stderr}");
        }

        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{output}");
        return output;
    }

    public static Process Start(string workingDirectory, string file, IEnumerable<string> args, IDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Courier.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Courier.slnx not found above " + AppContext.BaseDirectory);
    }
}
