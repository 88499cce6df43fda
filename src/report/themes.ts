/**
 * VS Code's theme variables that the panel reads, with the values of the default dark, light and
 * high-contrast themes, for the pages that run the panel outside VS Code: the self-contained HTML
 * report and the browser tests' page.
 */
export const THEMES: Record<'dark' | 'light' | 'high-contrast', { cls: string; vars: Record<string, string> }> = {
  dark: {
    cls: 'vscode-dark',
    vars: {
      '--vscode-foreground': '#cccccc', '--vscode-editor-background': '#1e1e1e', '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-charts-foreground': '#cccccc', '--vscode-charts-lines': 'rgba(204,204,204,0.25)', '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-red': '#f14c4c', '--vscode-charts-yellow': '#cca700', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-orange': '#d18616', '--vscode-button-background': '#0e639c', '--vscode-button-foreground': '#ffffff',
      '--vscode-button-secondaryBackground': '#3a3d41', '--vscode-button-secondaryForeground': '#cccccc', '--vscode-widget-border': '#454545',
      '--vscode-dropdown-background': '#3c3c3c', '--vscode-dropdown-foreground': '#f0f0f0', '--vscode-font-family': 'system-ui, sans-serif', '--vscode-font-size': '13px',
      '--vscode-errorForeground': '#f48771', '--vscode-focusBorder': '#007fd4',
    },
  },
  light: {
    cls: 'vscode-light',
    vars: {
      '--vscode-foreground': '#616161', '--vscode-editor-background': '#ffffff', '--vscode-descriptionForeground': '#717171',
      '--vscode-charts-foreground': '#616161', '--vscode-charts-lines': 'rgba(97,97,97,0.25)', '--vscode-charts-blue': '#1a85ff',
      '--vscode-charts-red': '#e51400', '--vscode-charts-yellow': '#bf8803', '--vscode-charts-green': '#388a34', '--vscode-charts-purple': '#652d90',
      '--vscode-charts-orange': '#d18616', '--vscode-button-background': '#007acc', '--vscode-button-foreground': '#ffffff',
      '--vscode-button-secondaryBackground': '#5f6a79', '--vscode-button-secondaryForeground': '#ffffff', '--vscode-widget-border': '#d4d4d4',
      '--vscode-dropdown-background': '#ffffff', '--vscode-dropdown-foreground': '#616161', '--vscode-font-family': 'system-ui, sans-serif', '--vscode-font-size': '13px',
      '--vscode-errorForeground': '#a1260d', '--vscode-focusBorder': '#0090f1',
    },
  },
  'high-contrast': {
    cls: 'vscode-high-contrast',
    vars: {
      '--vscode-foreground': '#ffffff', '--vscode-editor-background': '#000000', '--vscode-descriptionForeground': '#ffffff',
      '--vscode-charts-foreground': '#ffffff', '--vscode-charts-lines': 'rgba(255,255,255,0.5)', '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-red': '#f14c4c', '--vscode-charts-yellow': '#ffd700', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-orange': '#d18616', '--vscode-button-background': '#000000', '--vscode-button-foreground': '#ffffff', '--vscode-button-border': '#6fc3df',
      '--vscode-widget-border': '#6fc3df', '--vscode-dropdown-background': '#000000', '--vscode-dropdown-foreground': '#ffffff',
      '--vscode-font-family': 'system-ui, sans-serif', '--vscode-font-size': '13px', '--vscode-errorForeground': '#f48771', '--vscode-focusBorder': '#f38518',
    },
  },
};
