using System.Diagnostics;

namespace Courier.Tests.Infrastructure;

/// <summary>Named pipes (FIFOs), which .NET cannot make: what a hostile writer of a watched directory could put there.</summary>
public static class NamedPipe
{
    /// <summary>Makes a named pipe at <paramref name="path"/> with mkfifo(1).</summary>
    public static async Task CreateAsync(string path)
    {
        using var mkfifo = Process.Start("mkfifo", path);
        await mkfifo.WaitForExitAsync();
        Assert.Equal(0, mkfifo.ExitCode);
    }
}
