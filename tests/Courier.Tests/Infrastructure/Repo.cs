namespace Courier.Tests.Infrastructure;

public static class Repo
{
    /// <summary>The checkout's root (the folder holding Courier.slnx).</summary>
    public static string Root { get; } = FindRoot();

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

    /// <summary>Whether this run is CI, where nothing may be skipped for a missing tool.</summary>
    public static bool IsCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));
}
